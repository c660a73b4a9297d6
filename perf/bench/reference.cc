#include "perf/bench/reference.h"

#include <algorithm>
#include <cmath>

#include "perf/bench/element_codec.h"

namespace prism::bench {
namespace {

constexpr size_t kMaxSmallValue = 9;  // dense patterns use 0..9 at most
constexpr size_t kMaxDistinct = 101;  // data movement uses 0..100 where the type allows

bool isFloating(ncclDataType_t type) { return typeEpsilon(type) > 0; }

}  // namespace

Reference::Reference(Collective collective, ncclDataType_t type, BenchOp op, int nranks, int root)
    : collective_(collective), type_(type), op_(op), nranks_(nranks), root_(root) {
  const auto limit = static_cast<size_t>(exactIntegerLimit(type));
  const auto n = static_cast<size_t>(nranks);
  modulus_ = std::min(limit + 1, kMaxDistinct);
  if (!usesRedOp(collective)) return;
  switch (op) {
    case BenchOp::Sum:
    case BenchOp::MulSum: {
      // The whole sum must stay exact: n ranks times the largest (scaled) input.
      size_t weight = op == BenchOp::MulSum ? 2 : 1;
      size_t largest = limit / (weight * n);
      if (largest >= 3) {
        pattern_ = Pattern::DenseSum;
        modulus_ = std::min(largest, kMaxSmallValue) + 1;
      } else {
        pattern_ = Pattern::SparseSum;  // one rank contributes 1..3, the rest 0
      }
      break;
    }
    case BenchOp::Prod:
      pattern_ = Pattern::PowerOfTwo;
      break;
    case BenchOp::Max:
    case BenchOp::Min:
      pattern_ = Pattern::Distinct;
      break;
    case BenchOp::Avg:
      // Every rank sends the same value, so the mean is exact once the sum is.
      pattern_ = Pattern::Uniform;
      modulus_ = std::clamp<size_t>(limit / n, 1, kMaxSmallValue) + 1;
      if (isFloating(type)) tolerance_ = static_cast<double>(n) * typeEpsilon(type);
      break;
  }
}

double Reference::input(int rank, size_t i) const {
  const auto r = static_cast<size_t>(rank);
  const auto n = static_cast<size_t>(nranks_);
  switch (pattern_) {
    case Pattern::Distinct:
      return static_cast<double>((r * 17 + i * 5 + 3) % modulus_);
    case Pattern::DenseSum:
      return static_cast<double>((r * 3 + i) % modulus_);
    case Pattern::SparseSum:
      return i % n == r ? static_cast<double>(1 + (i / n) % 3) : 0.0;
    case Pattern::PowerOfTwo:
      return i % n == r && (i / n) % 2 == 1 ? 2.0 : 1.0;
    case Pattern::Uniform:
      return static_cast<double>(i % modulus_);
  }
  return 0;
}

double Reference::scalar(int rank) const { return 1.0 + rank % 2; }

void Reference::fillSend(void* send, const Layout& layout, int rank) const {
  for (size_t i = 0; i < layout.sendCount; ++i) storeElement(type_, send, i, input(rank, i));
}

size_t Reference::checkedCount(const Layout& layout, int rank) const {
  bool rootOnly = collective_ == Collective::Reduce || collective_ == Collective::Gather;
  return rootOnly && rank != root_ ? 0 : layout.recvCount;
}

double Reference::reduced(size_t i) const {
  double acc = input(0, i) * (op_ == BenchOp::MulSum ? scalar(0) : 1.0);
  for (int r = 1; r < nranks_; ++r) {
    double v = input(r, i);
    switch (op_) {
      case BenchOp::Sum:
      case BenchOp::Avg:
        acc += v;
        break;
      case BenchOp::MulSum:
        acc += scalar(r) * v;
        break;
      case BenchOp::Prod:
        acc *= v;
        break;
      case BenchOp::Max:
        acc = std::max(acc, v);
        break;
      case BenchOp::Min:
        acc = std::min(acc, v);
        break;
    }
  }
  if (op_ == BenchOp::Avg) {
    acc /= nranks_;
    if (!isFloating(type_)) acc = std::trunc(acc);  // integer avg divides like C
  }
  return acc;
}

double Reference::expected(const Layout& layout, int rank, size_t i) const {
  const size_t count = layout.count;
  const auto r = static_cast<size_t>(rank);
  switch (collective_) {
    case Collective::AllReduce:
    case Collective::Reduce:
      return reduced(i);
    case Collective::ReduceScatter:
      return reduced(r * count + i);
    case Collective::AllGather:
    case Collective::Gather:
      return input(static_cast<int>(i / count), i % count);
    case Collective::Broadcast:
      return input(root_, i);
    case Collective::AllToAll:
      return input(static_cast<int>(i / count), r * count + i % count);
    case Collective::Scatter:
      return input(root_, r * count + i);
    case Collective::SendRecv:
      return input((rank - 1 + nranks_) % nranks_, i);
  }
  return 0;
}

bool Reference::matches(double got, double want) const {
  if (tolerance_ == 0) return got == want;
  return std::fabs(got - want) <= tolerance_ * std::max(1.0, std::fabs(want));
}

size_t Reference::countMismatches(const void* recv, const Layout& layout, int rank) const {
  size_t wrong = 0;
  const size_t checked = checkedCount(layout, rank);
  for (size_t i = 0; i < checked; ++i) {
    if (!matches(loadElement(type_, recv, i), expected(layout, rank, i))) ++wrong;
  }
  return wrong;
}

}  // namespace prism::bench
