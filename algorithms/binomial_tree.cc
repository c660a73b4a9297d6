// Latency algorithms for the rooted collectives, for any root.
//
// Broadcast is a binomial tree: in ceil(log2 n) rounds every rank that has the data sends it
// to one that does not. A rank forwards to its largest subtree with a fused RecvSend, so
// slices flow on before the whole block has arrived.
//
// Reduce keeps no partial sums: a non-root rank may not touch its output and may not write
// its input, so without scratch blocks it can never combine two incoming messages. All it
// does is add its input to one passing message (RecvReduceSend to the wire). (A binomial
// Reduce with partial sums in scratch, like PAT ReduceScatter's, is possible now; the
// spider needs no scratch memory.) Reduce is therefore a "spider": k chains that end at the
// root, which combines them in order. Chain i is at most i ranks long, so it arrives just as
// the root is ready for it, and k(k+1)/2 >= n-1 ranks finish in about sqrt(2n) steps
// (the ring's single chain takes n-1).
//
// Gather and Scatter use the other binomial tree, whose subtrees are contiguous: the parent
// of position v clears v's lowest bit, and v's subtree is positions [v, v + lowestBit(v)).
// Gather runs it upwards in log2(n) levels: a rank collects its children's subtrees (the
// smallest, which is ready first, first) and then sends its own share and theirs to its
// parent. Scatter runs it downwards: a rank receives its subtree's shares, keeps its own and
// passes each child its subtree, the largest first. The root uses its own buffers; other
// ranks own no buffer for other ranks' shares (their Gather output and Scatter input may be
// NULL), so a relay keeps its subtree in scratch blocks: position v + i is scratch block
// i - 1, fewer than n/2 blocks (the largest subtree below the root, less its own share).
#include <algorithm>
#include <vector>

#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "tree";

/// Binomial tree over positions relative to the root (root = 0): the parent of v clears
/// v's highest bit; the children add a higher bit. Largest subtree first.
int treeParent(int v) { return v - largestPowerOfTwoAtMost(v); }
std::vector<int> treeChildren(int v, int n) {
  std::vector<int> children;
  for (int m = v == 0 ? 1 : 2 * largestPowerOfTwoAtMost(v); v + m < n; m *= 2)
    children.push_back(v + m);
  return {children.rbegin(), children.rend()};
}

/// Lengths of the spider's chains for `members` non-root ranks: 1, 2, ..., k, with the
/// longest ones shortened by one until they sum to `members`.
std::vector<int> spiderChainLengths(int members) {
  int k = 0;
  while (k * (k + 1) / 2 < members) ++k;
  const int surplus = k * (k + 1) / 2 - members;  // < k, so every chain keeps a rank
  std::vector<int> lengths;
  for (int i = 1; i <= k; ++i) lengths.push_back(i > k - surplus ? i - 1 : i);
  return lengths;
}

Schedule broadcast(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, 1);
  auto rankOf = [&](int v) { return mod(v + req.root, n); };
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    const int v = mod(r - req.root, n);
    const std::vector<int> children = treeChildren(v, n);
    size_t next = 0;
    if (v != 0) {
      const int parent = rankOf(treeParent(v));
      if (children.empty()) {
        steps.push_back(recv(parent, out(0)));
      } else {
        steps.push_back(recvSend(parent, rankOf(children[next++]), out(0)));
      }
    }
    // The root sends from its input (its output may be the same memory in place).
    const BlockRef src = v == 0 ? in(0) : out(0);
    for (; next < children.size(); ++next) steps.push_back(send(rankOf(children[next]), src));
    if (v == 0) steps.push_back(copy(in(0), out(0)));
  }
  return s;
}

Schedule reduce(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, 1);
  auto rankOf = [&](int v) { return mod(v + req.root, n); };
  auto& root = s.steps[req.root];
  if (n == 1) {
    root.push_back(copy(in(0), out(0), true));
    return s;
  }
  const std::vector<int> lengths = spiderChainLengths(n - 1);
  int head = 1;  // relative position of the chain member next to the root
  for (size_t i = 0; i < lengths.size(); ++i) {
    const int tail = head + lengths[i] - 1;
    // Data flows tail -> ... -> head -> root; position p sends to p-1 (head to the root).
    for (int v = head; v <= tail; ++v) {
      const int to = v == head ? req.root : rankOf(v - 1);
      auto& steps = s.steps[rankOf(v)];
      if (v == tail) {
        steps.push_back(send(to, in(0)));
      } else {
        steps.push_back(recvReduceSend(rankOf(v + 1), to, in(0), wire()));
      }
    }
    const bool last = i + 1 == lengths.size();
    root.push_back(recvReduce(rankOf(head), i == 0 ? in(0) : out(0), out(0), last));
    head = tail + 1;
  }
  return s;
}

int lowestBit(int v) { return v & -v; }

/// Positions of the contiguous tree that the subtree of v covers: [v, v + size).
int subtreeSize(int v, int n) { return v == 0 ? n : std::min(lowestBit(v), n - v); }
/// Children of v, smallest subtree first: v + 1, v + 2, v + 4, ... below v's lowest bit.
std::vector<int> subtreeChildren(int v, int n) {
  std::vector<int> children;
  for (int m = 1; (v == 0 || m < lowestBit(v)) && v + m < n; m *= 2) children.push_back(v + m);
  return children;
}

/// Where a relay at position v keeps the share of position u (v < u < v + subtree).
BlockRef relayBlock(int v, int u) { return scratch(u - v - 1); }

int scratchNeeded(int n) {
  int most = 0;
  for (int v = 1; v < n; ++v) most = std::max(most, subtreeSize(v, n) - 1);
  return most;
}

Schedule gather(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, n);
  s.scratchBlocks = scratchNeeded(n);
  auto rankOf = [&](int v) { return mod(v + req.root, n); };
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    const int v = mod(r - req.root, n);
    // The root stores each share where it belongs; a relay keeps it in scratch.
    auto slot = [&](int u) { return v == 0 ? out(rankOf(u)) : relayBlock(v, u); };
    for (int child : subtreeChildren(v, n)) {
      for (int u = child; u < child + subtreeSize(child, n); ++u) {
        steps.push_back(recv(rankOf(child), slot(u)));
      }
    }
    if (v == 0) {
      steps.push_back(copy(in(0), out(r)));
      continue;
    }
    const int parent = rankOf(v - lowestBit(v));
    steps.push_back(send(parent, in(0)));
    for (int u = v + 1; u < v + subtreeSize(v, n); ++u) steps.push_back(send(parent, slot(u)));
  }
  return s;
}

Schedule scatter(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, n, 1);
  s.scratchBlocks = scratchNeeded(n);
  auto rankOf = [&](int v) { return mod(v + req.root, n); };
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    const int v = mod(r - req.root, n);
    auto slot = [&](int u) { return v == 0 ? in(rankOf(u)) : relayBlock(v, u); };
    if (v != 0) {
      const int parent = rankOf(v - lowestBit(v));
      steps.push_back(recv(parent, out(0)));
      for (int u = v + 1; u < v + subtreeSize(v, n); ++u) steps.push_back(recv(parent, slot(u)));
    }
    // Largest subtree first: it has the longest way still to go.
    const std::vector<int> children = subtreeChildren(v, n);
    for (auto child = children.rbegin(); child != children.rend(); ++child) {
      for (int u = *child; u < *child + subtreeSize(*child, n); ++u) {
        steps.push_back(send(rankOf(*child), slot(u)));
      }
    }
    // In place, the root's output is its input block `root`, read above only for others.
    if (v == 0) steps.push_back(copy(in(r), out(0)));
  }
  return s;
}

}  // namespace

bool binomialTreeSupports(Collective c) {
  return c == Collective::Broadcast || c == Collective::Reduce || c == Collective::Gather ||
         c == Collective::Scatter;
}

Schedule generateBinomialTree(const ScheduleRequest& request) {
  switch (request.collective) {
    case Collective::Broadcast:
      return broadcast(request);
    case Collective::Reduce:
      return reduce(request);
    case Collective::Gather:
      return gather(request);
    case Collective::Scatter:
      return scatter(request);
    default:
      throwUnsupported(kName, request.collective);
  }
}

}  // namespace prism
