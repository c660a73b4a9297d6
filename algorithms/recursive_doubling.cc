// Recursive doubling AllReduce: log2(n) exchanges of the whole buffer, the latency choice
// for small messages. For n that is not a power of two, the first 2*extra ranks pair up
// before the exchanges: each even one hands its input to its odd neighbour and sits out,
// and gets the result back at the end.
//
// Every rank ends with bit-identical results: in each exchange both partners combine the
// same two partial sums (a (op) b and b (op) a agree for commutative ops), so all members of
// a group hold the same value after every level, and folded ranks receive a copy.
#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "recursive_doubling";

/// Ranks below 2*extra pair up as (2i, 2i+1); the even one folds into the odd one.
bool foldsAway(int rank, int extra) { return rank < 2 * extra && rank % 2 == 0; }
bool absorbsFold(int rank, int extra) { return rank < 2 * extra && rank % 2 == 1; }

/// Index among the power-of-two core of a rank that does not fold away, and back.
int coreIndex(int rank, int extra) { return rank < 2 * extra ? rank / 2 : rank - extra; }
int coreRank(int index, int extra) { return index < extra ? 2 * index + 1 : index + extra; }

}  // namespace

bool recursiveDoublingSupports(Collective c) { return c == Collective::AllReduce; }

Schedule generateRecursiveDoubling(const ScheduleRequest& req) {
  if (req.collective != Collective::AllReduce) throwUnsupported(kName, req.collective);
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, 1);
  if (n == 1) {
    s.steps[0].push_back(copy(in(0), out(0), true));
    return s;
  }
  const int p = largestPowerOfTwoAtMost(n);
  const int extra = n - p;
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    if (foldsAway(r, extra)) {
      steps.push_back(send(r + 1, in(0)));
      steps.push_back(recv(r + 1, out(0)));
      continue;
    }
    // The first reduction reads the input; every later one reads the partial in output 0.
    BlockRef src = in(0);
    if (absorbsFold(r, extra)) {
      steps.push_back(recvReduce(r - 1, in(0), out(0)));
      src = out(0);
    }
    const int index = coreIndex(r, extra);
    for (int mask = 1; mask < p; mask *= 2) {
      const int partner = coreRank(index ^ mask, extra);
      steps.push_back(sendRecvReduce(partner, src, out(0), mask * 2 == p));
      src = out(0);
    }
    if (absorbsFold(r, extra)) steps.push_back(send(r - 1, out(0)));
  }
  return s;
}

}  // namespace prism
