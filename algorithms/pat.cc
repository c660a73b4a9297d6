// PAT ("parallel aggregated trees", after the algorithm NCCL 2.23 added for AllGather at
// scale): every rank's share is broadcast along its own binomial tree, and the n trees are
// shifted copies of one another, so at each level every rank sends to the same peer and the
// sends of all trees at that level travel together.
//
// The trees halve the distance at each level: at level j (distance d = 2^j, from the
// largest down to 1) the holder at relative position v sends to v + d. The share of rank s
// thus first crosses the longest distance, and a rank forwards at level j only shares it
// received at a higher level. That is the difference from Bruck, whose distances grow: the
// far hops carry few shares (one at the first level) and the near hops, which on a
// hierarchical fabric stay inside a host, carry many. Relayed shares are kept in the
// output, where they belong anyway, so no staging buffer is needed.
//
// ReduceScatter is not offered: its tree would combine several partial sums at one rank,
// and a ReduceScatter rank has no buffer besides its own output block to keep them in.
#include <algorithm>
#include <vector>

#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "pat";

int lowestBit(int v) { return v & -v; }

/// In the tree of a share, position v (0 = its owner) receives at level lowestBit(v) from
/// v - lowestBit(v), and sends at every lower level d to v + d while that exists.
bool patReceivesAt(int v, int d) { return v != 0 && lowestBit(v) == d; }
bool patSendsAt(int v, int d, int n) { return (v == 0 || lowestBit(v) > d) && v + d < n; }

}  // namespace

bool patSupports(Collective c) { return c == Collective::AllGather; }

Schedule generatePat(const ScheduleRequest& req) {
  if (req.collective != Collective::AllGather) throwUnsupported(kName, req.collective);
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, n);
  int top = 1;
  while (top < n) top *= 2;
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    for (int d = top / 2; d >= 1; d /= 2) {
      // Sends to r+d and receives from r-d pair up one to one (the receiver's positions
      // are the sender's plus d), both in order of position.
      std::vector<Step> sends, recvs;
      for (int v = 0; v < n; ++v) {
        const int owner = mod(r - v, n);
        if (patSendsAt(v, d, n)) sends.push_back(send(mod(r + d, n), v == 0 ? in(0) : out(owner)));
        if (patReceivesAt(v, d)) recvs.push_back(recv(mod(r - d, n), out(owner)));
      }
      const std::vector<Step> level = windowed(sends, recvs);
      steps.insert(steps.end(), level.begin(), level.end());
    }
    steps.push_back(copy(in(0), out(r)));
  }
  return s;
}

}  // namespace prism
