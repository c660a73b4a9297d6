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
// ReduceScatter runs the same trees backwards: block t's tree is rooted at rank t, levels
// go from distance 1 up to the largest, and at level d the rank at position u = r - t with
// lowestBit(u) == d sends its partial sum of block t to u - d, after it has received and
// added those of its children u + 1, u + 2, ... (< lowestBit(u)). A ReduceScatter rank owns
// no buffer for other ranks' blocks, so those partial sums accumulate in scratch blocks
// (one per even position with a child, about n/2 blocks); its own block accumulates in its
// output, and the last of its log2(n) receives applies the final transform (ncclAvg).
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

/// Smallest power of two >= n.
int levelsTop(int n) {
  int top = 1;
  while (top < n) top *= 2;
  return top;
}

Schedule allGather(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, n);
  const int top = levelsTop(n);
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

/// Scratch block of the partial sum at tree position u, or -1 where u has no child and
/// sends its input block untouched. Children exist for even u with u + 1 < n.
int partialSumBlock(int u, int n) { return u != 0 && u % 2 == 0 && u + 1 < n ? u / 2 - 1 : -1; }

Schedule reduceScatter(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, n, 1);
  s.scratchBlocks = std::max(0, (n - 2) / 2);
  const int top = levelsTop(n);
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    if (n == 1) steps.push_back(copy(in(0), out(0), true));
    // Whether the partial sum of position u already holds more than this rank's input.
    std::vector<bool> started(n, false);
    for (int d = 1; d < top; d *= 2) {
      // The AllGather's level d with every edge reversed: sends to r-d pair up one to one
      // with the receives of r-d from its r+d (positions less d), both in order of position.
      // (patReceivesAt/patSendsAt name the AllGather's direction: reversed here.)
      std::vector<Step> sends, recvs;
      for (int u = 0; u < n; ++u) {
        const int block = mod(r - u, n);
        if (patReceivesAt(u, d)) {
          const int sum = partialSumBlock(u, n);
          sends.push_back(send(mod(r - d, n), sum < 0 ? in(block) : scratch(sum)));
        }
        if (patSendsAt(u, d, n)) {
          const BlockRef acc = u == 0 ? out(0) : scratch(partialSumBlock(u, n));
          const bool last = u == 0 && 2 * d >= top;
          recvs.push_back(recvReduce(mod(r + d, n), started[u] ? acc : in(block), acc, last));
          started[u] = true;
        }
      }
      const std::vector<Step> level = windowed(sends, recvs);
      steps.insert(steps.end(), level.begin(), level.end());
    }
  }
  return s;
}

}  // namespace

bool patSupports(Collective c) {
  return c == Collective::AllGather || c == Collective::ReduceScatter;
}

Schedule generatePat(const ScheduleRequest& req) {
  switch (req.collective) {
    case Collective::AllGather:
      return allGather(req);
    case Collective::ReduceScatter:
      return reduceScatter(req);
    default:
      throwUnsupported(kName, req.collective);
  }
}

}  // namespace prism
