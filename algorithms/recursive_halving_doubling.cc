// Rabenseifner AllReduce: a recursive-halving reduce-scatter, then a recursive-doubling
// allgather. Each rank sends and reduces about (n-1)/n of the buffer once, like the ring,
// but in 2 log2(n) steps instead of 2(n-1).
//
// For n that is not a power of two, the first 2*extra ranks fold in pairs before the
// halving (Rabenseifner/Thakur): even rank 2i hands its whole input to 2i+1 and sits out,
// and gets the result back at the end. The p = 2^floor(log2 n) remaining "core" ranks cut
// the buffer into p blocks; core rank i ends the halving holding block i complete.
//
// ReduceScatter and AllGather are not offered: a ReduceScatter rank has no buffer to keep
// the partial sums of other ranks' blocks in (its output is its own block), and recursive
// doubling AllGather needs n to be a power of two.
#include <algorithm>
#include <vector>

#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "rabenseifner";

bool foldsAway(int rank, int extra) { return rank < 2 * extra && rank % 2 == 0; }
bool absorbsFold(int rank, int extra) { return rank < 2 * extra && rank % 2 == 1; }
int coreIndex(int rank, int extra) { return rank < 2 * extra ? rank / 2 : rank - extra; }
int coreRank(int index, int extra) { return index < extra ? 2 * index + 1 : index + extra; }

/// The steps of core rank `index` (global `rank`) over blocks [0, p).
void coreSteps(std::vector<Step>& steps, int index, int p, int extra, bool haveOutput) {
  // A block is read from the input until this rank first stores a partial of it; in place
  // the two are the same memory, so this is right in both modes.
  std::vector<bool> stored(p, haveOutput);
  auto current = [&](int b) { return stored[b] ? out(b) : in(b); };
  int lo = 0;
  int size = p;
  // Halving: the partner at distance m keeps the other half of the window.
  for (int m = p / 2; m >= 1; m /= 2) {
    const int partner = coreRank(index ^ m, extra);
    const int half = size / 2;
    const int keep = (index & m) == 0 ? lo : lo + half;
    const int give = keep == lo ? lo + half : lo;
    std::vector<Step> sends, recvs;
    for (int j = 0; j < half; ++j) {
      sends.push_back(send(partner, current(give + j)));
      recvs.push_back(recvReduce(partner, current(keep + j), out(keep + j), m == 1));
    }
    const std::vector<Step> level = windowed(sends, recvs);
    steps.insert(steps.end(), level.begin(), level.end());
    for (int j = 0; j < half; ++j) stored[keep + j] = true;
    lo = keep;
    size = half;
  }
  // Doubling: windows of `size` blocks aligned to multiples of `size` swap and merge.
  for (int m = 1; m < p; m *= 2) {
    const int partner = coreRank(index ^ m, extra);
    const int theirs = lo ^ m;
    std::vector<Step> sends, recvs;
    for (int j = 0; j < size; ++j) {
      sends.push_back(send(partner, out(lo + j)));
      recvs.push_back(recv(partner, out(theirs + j)));
    }
    const std::vector<Step> level = windowed(sends, recvs);
    steps.insert(steps.end(), level.begin(), level.end());
    lo = std::min(lo, theirs);
    size *= 2;
  }
}

}  // namespace

bool rabenseifnerSupports(Collective c) { return c == Collective::AllReduce; }

Schedule generateRabenseifner(const ScheduleRequest& req) {
  if (req.collective != Collective::AllReduce) throwUnsupported(kName, req.collective);
  const int n = req.nranks;
  const int p = largestPowerOfTwoAtMost(std::max(n, 1));
  Schedule s = makeSchedule(req, kName, p, p);
  if (n == 1) {
    s.steps[0].push_back(copy(in(0), out(0), true));
    return s;
  }
  const int extra = n - p;
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    if (foldsAway(r, extra)) {
      for (int b = 0; b < p; ++b) steps.push_back(send(r + 1, in(b)));
      for (int b = 0; b < p; ++b) steps.push_back(recv(r + 1, out(b)));
      continue;
    }
    if (absorbsFold(r, extra)) {
      for (int b = 0; b < p; ++b) steps.push_back(recvReduce(r - 1, in(b), out(b)));
    }
    coreSteps(steps, coreIndex(r, extra), p, extra, absorbsFold(r, extra));
    if (absorbsFold(r, extra)) {
      for (int b = 0; b < p; ++b) steps.push_back(send(r - 1, out(b)));
    }
  }
  return s;
}

}  // namespace prism
