// The validation data of one check run: what every rank sends and what every rank must
// then hold, computed independently of the library.
#pragma once

#include <cstddef>

#include "nccl.h"
#include "perf/bench/collectives.h"
#include "perf/bench/names.h"

namespace prism::bench {

/// Inputs are small integers chosen per (collective, type, operator, rank count) so that
/// every result, and every partial result in any reduction order, is exact in the type:
/// sums stay under the type's exact-integer limit, products are powers of two. Only avg
/// on a floating type is compared with a tolerance, since the divide may round.
class Reference {
 public:
  Reference(Collective collective, ncclDataType_t type, BenchOp op, int nranks, int root);

  /// Element `i` of `rank`'s send buffer.
  double input(int rank, size_t i) const;
  /// The scalar `rank` passes to ncclRedOpCreatePreMulSum for mulsum (1 or 2).
  double scalar(int rank) const;
  /// Writes `rank`'s input into the layout.sendCount elements at `send`.
  void fillSend(void* send, const Layout& layout, int rank) const;
  /// How many leading receive elements `rank` checks; 0 where the collective leaves
  /// nothing defined there (reduce and gather off the root).
  size_t checkedCount(const Layout& layout, int rank) const;
  /// The value receive element `i` of `rank` must hold.
  double expected(const Layout& layout, int rank, size_t i) const;
  /// True when `got` is an acceptable result for `want`.
  bool matches(double got, double want) const;
  /// Checked receive elements at `recv` that do not match.
  size_t countMismatches(const void* recv, const Layout& layout, int rank) const;

 private:
  enum class Pattern { Distinct, DenseSum, SparseSum, PowerOfTwo, Uniform };

  double reduced(size_t i) const;

  Collective collective_;
  ncclDataType_t type_;
  BenchOp op_;
  int nranks_;
  int root_;
  Pattern pattern_ = Pattern::Distinct;
  size_t modulus_ = 1;    // inputs of Distinct, DenseSum and Uniform are below this
  double tolerance_ = 0;  // relative, only for avg on floating types
};

}  // namespace prism::bench
