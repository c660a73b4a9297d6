// Interval-union arithmetic for the overlap meter: pure functions, no clocks.
#include <algorithm>

#include "train/overlap/overlap_meter.hpp"

namespace prism::overlap {

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

}  // namespace prism::overlap
