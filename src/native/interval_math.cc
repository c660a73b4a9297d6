// Interval-union arithmetic for the overlap meter: pure functions, no clocks.
#include <algorithm>
#include <prism/overlap.hpp>

namespace prism {

std::vector<Interval> intervalUnion(std::span<const Interval> intervals) {
  std::vector<Interval> sorted;
  for (const Interval& i : intervals)
    if (i.end > i.begin) sorted.push_back(i);
  std::sort(sorted.begin(), sorted.end(),
            [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  std::vector<Interval> merged;
  for (const Interval& i : sorted) {
    if (!merged.empty() && i.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, i.end);
    } else {
      merged.push_back(i);
    }
  }
  return merged;
}

double unionLength(std::span<const Interval> intervals) {
  double total = 0;
  for (const Interval& i : intervalUnion(intervals)) total += i.end - i.begin;
  return total;
}

double intersectionLength(std::span<const Interval> a, std::span<const Interval> b) {
  std::vector<Interval> x = intervalUnion(a), y = intervalUnion(b);
  // Two-pointer sweep over the sorted disjoint lists.
  double total = 0;
  size_t i = 0, j = 0;
  while (i < x.size() && j < y.size()) {
    double lo = std::max(x[i].begin, y[j].begin), hi = std::min(x[i].end, y[j].end);
    if (hi > lo) total += hi - lo;
    (x[i].end < y[j].end) ? ++i : ++j;
  }
  return total;
}

double exposedLength(std::span<const Interval> comm, std::span<const Interval> compute) {
  return unionLength(comm) - intersectionLength(comm, compute);
}

const char* commKindName(CommKind kind) {
  switch (kind) {
    case CommKind::AllReduce:
      return "allReduce";
    case CommKind::AllGather:
      return "allGather";
    case CommKind::ReduceScatter:
      return "reduceScatter";
    case CommKind::AllToAll:
      return "allToAll";
    case CommKind::Broadcast:
      return "broadcast";
    case CommKind::Reduce:
      return "reduce";
    case CommKind::SendRecv:
      return "sendRecv";
    case CommKind::Custom:
      return "custom";
  }
  return "unknown";
}

double busBandwidthFactor(CommKind kind, int nranks) {
  if (nranks <= 1)
    return kind == CommKind::AllReduce || kind == CommKind::AllGather ||
                   kind == CommKind::ReduceScatter || kind == CommKind::AllToAll
               ? 0.0
               : 1.0;
  double n = nranks;
  switch (kind) {
    case CommKind::AllReduce:
      return 2 * (n - 1) / n;
    case CommKind::AllGather:
    case CommKind::ReduceScatter:
    case CommKind::AllToAll:
      return (n - 1) / n;
    default:
      return 1;
  }
}

}  // namespace prism
