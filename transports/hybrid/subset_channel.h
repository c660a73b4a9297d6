// A SetupChannel over a subset of another channel's ranks (for example the ranks of one
// host), so that a transport built for "all ranks of the channel" can serve a subset.
#pragma once

#include <vector>

#include "base/setup_channel.h"

namespace prism {

/// Collective over the parent, not only the subset: every allGather is one allGather of
/// the parent, so every parent rank must make the same calls in the same order, each
/// through the subset it belongs to (disjoint subsets, e.g. one per host, do so naturally
/// when they run the same set-up code).
class SubsetSetupChannel final : public SetupChannel {
 public:
  /// `members`: parent ranks of the subset in ascending order, including parent.rank().
  SubsetSetupChannel(SetupChannel& parent, std::vector<int> members);

  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(members_.size()); }
  /// The parent rank of subset rank `r`.
  int parentRank(int r) const { return members_[static_cast<size_t>(r)]; }
  void allGather(const void* mine, void* all, size_t bytes) override;

 private:
  SetupChannel& parent_;
  std::vector<int> members_;
  int rank_ = -1;
};

}  // namespace prism
