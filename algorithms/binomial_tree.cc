// Latency algorithms for the rooted collectives, for any root.
//
// Broadcast is a binomial tree: in ceil(log2 n) rounds every rank that has the data sends it
// to one that does not. A rank forwards to its largest subtree with a fused RecvSend, so
// slices flow on before the whole block has arrived.
//
// Reduce cannot be a binomial tree under NCCL's buffer rules: a non-root rank may not touch
// its output and may not write its input, so it has nowhere to keep a partial sum and can
// never combine two incoming messages. All it can do is add its input to one passing message
// (RecvReduceSend to the wire). Reduce is therefore a "spider": k chains that end at the
// root, which combines them in order. Chain i is at most i ranks long, so it arrives just as
// the root is ready for it, and k(k+1)/2 >= n-1 ranks finish in about sqrt(2n) steps
// (the ring's single chain takes n-1).
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

}  // namespace

bool binomialTreeSupports(Collective c) {
  return c == Collective::Broadcast || c == Collective::Reduce;
}

Schedule generateBinomialTree(const ScheduleRequest& request) {
  switch (request.collective) {
    case Collective::Broadcast:
      return broadcast(request);
    case Collective::Reduce:
      return reduce(request);
    default:
      throwUnsupported(kName, request.collective);
  }
}

}  // namespace prism
