// Bruck: AllGather and AllToAll in ceil(log2 n) communication levels for any n.
//
// AllGather: before level k (distance d = 2^k) rank r holds the shares of r .. r+d-1; it
// sends the first min(d, n-d) of them to r-d and receives as many from r+d, so after the
// last level it holds all n. Shares are written straight into their output blocks, so no
// final rotation is needed. A step moves one block, and the flow control model lets a rank
// run only two sends ahead of its receives, so a level of c blocks still adds about c/2
// dependent hops: about n/2 + log2(n) in all, against n-1 for the ring.
//
// AllToAll: the block rank s sends to s+delta travels the binary digits of delta from the
// lowest: it hops by 2^k for every set bit k, so it takes at most ceil(log2 n) hops and
// every message goes to r + 2^k. A relay forwards with a fused RecvSend (slices flow on as
// they arrive), so relays need no buffer. Without aggregation (a step is one block) every
// rank handles each of its n-1 blocks plus the blocks it relays one at a time, so this
// moves more than pairwise exchange and, in the simulator, finishes later; it is here for
// completeness and for fabrics where only r + 2^k links are cheap.
#include <algorithm>
#include <vector>

#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "bruck";

Schedule allGather(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, n);
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    // The own share is read from the input (in place it is output block r).
    auto share = [&](int owner) { return owner == r ? in(0) : out(owner); };
    for (int d = 1; d < n; d *= 2) {
      const int count = std::min(d, n - d);
      std::vector<Step> sends, recvs;
      for (int j = 0; j < count; ++j) {
        sends.push_back(send(mod(r - d, n), share(mod(r + j, n))));
        recvs.push_back(recv(mod(r + d, n), out(mod(r + d + j, n))));
      }
      const std::vector<Step> level = windowed(sends, recvs);
      steps.insert(steps.end(), level.begin(), level.end());
    }
    steps.push_back(copy(in(0), out(r)));
  }
  return s;
}

/// The set bits of delta, lowest first: the hop distances of a block sent delta ranks on.
std::vector<int> hops(int delta) {
  std::vector<int> result;
  for (int bit = 1; bit <= delta; bit *= 2) {
    if (delta & bit) result.push_back(bit);
  }
  return result;
}

/// Rank r's part in moving every block of distance `delta`: for hop position i it is the
/// i-th rank on the path of the block that started at r - (sum of the first i hops).
void hopStep(std::vector<Step>& steps, int r, int n, int delta, size_t i) {
  const std::vector<int> h = hops(delta);
  int travelled = 0;
  for (size_t k = 0; k < i; ++k) travelled += h[k];
  const int source = mod(r - travelled, n);
  if (i == 0) {
    steps.push_back(send(mod(r + h[0], n), in(mod(r + delta, n))));
  } else if (i < h.size()) {
    steps.push_back(recvSend(mod(r - h[i - 1], n), mod(r + h[i], n), wire()));
  } else {
    steps.push_back(recv(mod(r - h[i - 1], n), out(source)));
  }
}

Schedule allToAll(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, n, n);
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    steps.push_back(copy(in(r), out(r)));
    // Distances delta and n-delta are handled together, hop position by hop position: a
    // block of distance delta lands in output r-delta, which in place is input r+(n-delta),
    // the block of the partner distance; its send (position 0) comes first.
    for (int delta = 1; 2 * delta <= n; ++delta) {
      const int partner = n - delta;
      const size_t positions = std::max(hops(delta).size(), hops(partner).size()) + 1;
      for (size_t i = 0; i < positions; ++i) {
        if (i <= hops(delta).size()) hopStep(steps, r, n, delta, i);
        if (partner != delta && i <= hops(partner).size()) hopStep(steps, r, n, partner, i);
      }
    }
  }
  return s;
}

}  // namespace

bool bruckSupports(Collective c) { return c == Collective::AllGather || c == Collective::AllToAll; }

Schedule generateBruck(const ScheduleRequest& req) {
  switch (req.collective) {
    case Collective::AllGather:
      return allGather(req);
    case Collective::AllToAll:
      return allToAll(req);
    default:
      throwUnsupported(kName, req.collective);
  }
}

}  // namespace prism
