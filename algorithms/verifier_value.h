// Private to the verifier: what a block holds when a schedule runs on sets instead of
// numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prism::verify {

/// A set of contributions (rank, input block) plus whether the final transform was applied.
/// Reductions only combine contributions of one input block index, so every defined value
/// is "input block `block()` of the ranks in a set"; the set is a bitmap over ranks.
class Value {
 public:
  /// Never written: an output block before the schedule stores into it.
  Value() = default;
  /// Input block `block` of `rank` alone, as every input block starts.
  static Value single(int rank, int block, int nranks);
  /// Input block `block` of every rank: the complete reduction.
  static Value everyone(int block, int nranks);

  bool defined() const { return defined_; }
  bool finalized() const { return finalized_; }
  int block() const { return block_; }
  int count() const;
  /// The lowest rank both values hold, or -1 if they are disjoint.
  int firstCommonRank(const Value& other) const;

  /// Adds `other`'s contributions. The caller checked: same block, disjoint, not final.
  void unite(const Value& other);
  void finalize() { finalized_ = true; }

  /// E.g. "input block 2 of ranks {0-3,5} (finalized)", or "undefined".
  std::string describe() const;

  friend bool operator==(const Value&, const Value&) = default;

 private:
  bool defined_ = false;
  bool finalized_ = false;
  int block_ = -1;
  std::vector<uint64_t> ranks_;  ///< bit q set: rank q contributed
};

}  // namespace prism::verify
