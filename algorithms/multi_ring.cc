// Two rings at once, running in opposite directions, so that both directions of every
// link carry data in every round.
//
// AllReduce is composed: the ring AllReduce over the ranks in order carries blocks [0, n),
// a second one over the reversed order carries blocks [n, 2n), and each rank alternates
// their steps. AllGather and ReduceScatter cannot split a rank's share, so they split the
// path instead: a share travels ceil((n-1)/2) hops one way round and floor((n-1)/2) the
// other, which halves the depth of the ring.
#include <algorithm>
#include <utility>
#include <vector>

#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "multi_ring";

/// Hops a share travels forwards (r -> r+1) and backwards (r -> r-1).
int forwardHops(int n) { return n / 2; }
int backwardHops(int n) { return (n - 1) / 2; }

Schedule allReduce(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 2 * n, 2 * n);
  const Schedule ring = generateRing({Collective::AllReduce, n, 0});
  std::vector<int> forward(n), backward(n);
  for (int i = 0; i < n; ++i) {
    forward[i] = i;
    backward[i] = mod(-i, n);
  }
  auto blocks = [](int offset) {
    return [offset](int, BlockRef ref) {
      return std::vector<BlockRef>{{ref.buffer, ref.block + offset}};
    };
  };
  for (int i = 0; i < n; ++i) {
    // Global rank forward[i] is position i of the first ring; backward[j] == forward[i]
    // for j = (n - i) % n in the second.
    const int j = mod(-i, n);
    std::vector<Step> a = remapSteps(ring, i, forward, blocks(0), true);
    std::vector<Step> b = remapSteps(ring, j, backward, blocks(n), true);
    if (n > 2) {
      s.steps[forward[i]] = interleave(a, b);
    } else {
      // On two ranks both rings use the same two links; interleaved, each rank's two
      // first sends would fill the link before its first forward.
      a.insert(a.end(), b.begin(), b.end());
      s.steps[forward[i]] = std::move(a);
    }
  }
  return s;
}

Schedule allGather(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, n);
  const int fwd = forwardHops(n);
  const int bwd = backwardHops(n);
  for (int r = 0; r < n; ++r) {
    const int next = mod(r + 1, n);
    const int prev = mod(r - 1, n);
    std::vector<Step> a, b;
    // Forward: the k-th share to arrive from prev is that of r-k; forwarded while k < fwd.
    if (fwd > 0) a.push_back(send(next, in(0)));
    for (int k = 1; k <= fwd; ++k) {
      const BlockRef dst = out(mod(r - k, n));
      a.push_back(k < fwd ? recvSend(prev, next, dst) : recv(prev, dst));
    }
    if (bwd > 0) b.push_back(send(prev, in(0)));
    for (int k = 1; k <= bwd; ++k) {
      const BlockRef dst = out(mod(r + k, n));
      b.push_back(k < bwd ? recvSend(next, prev, dst) : recv(next, dst));
    }
    s.steps[r] = interleave(a, b);
    s.steps[r].push_back(copy(in(0), out(r)));
  }
  return s;
}

/// One direction of ReduceScatter: the chain for the share of t starts `hops` ranks before
/// t (in the direction of travel), gathers one contribution per rank on the wire and ends
/// at t. Rank r at step k works on the share of r + dir*(hops - k). The last step, the
/// arrival of r's own share, is left to the caller.
std::vector<Step> reduceChains(int r, int n, int hops, int dir) {
  std::vector<Step> steps;
  const int to = mod(r + dir, n);
  const int from = mod(r - dir, n);
  for (int k = 0; k < hops; ++k) {
    const BlockRef mine = in(mod(r + dir * (hops - k), n));
    steps.push_back(k == 0 ? send(to, mine) : recvReduceSend(from, to, mine, wire()));
  }
  return steps;
}

Schedule reduceScatter(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, n, 1);
  const int fwd = forwardHops(n);
  const int bwd = backwardHops(n);
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    steps = interleave(reduceChains(r, n, fwd, 1), reduceChains(r, n, bwd, -1));
    if (n == 1) {
      steps.push_back(copy(in(0), out(0), true));
      continue;
    }
    // In place output 0 is input r, read only here.
    steps.push_back(recvReduce(mod(r - 1, n), in(r), out(0), bwd == 0));
    if (bwd > 0) steps.push_back(recvReduce(mod(r + 1, n), out(0), out(0), true));
  }
  return s;
}

}  // namespace

bool multiRingSupports(Collective c) {
  return c == Collective::AllReduce || c == Collective::AllGather || c == Collective::ReduceScatter;
}

Schedule generateMultiRing(const ScheduleRequest& req) {
  switch (req.collective) {
    case Collective::AllReduce:
      return allReduce(req);
    case Collective::AllGather:
      return allGather(req);
    case Collective::ReduceScatter:
      return reduceScatter(req);
    default:
      throwUnsupported(kName, req.collective);
  }
}

}  // namespace prism
