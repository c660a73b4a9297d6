// How an operation combines values: NCCL's ncclRedOp_t resolved for one call.
#pragma once

#include <array>
#include <cstddef>

#include "base/dtype.h"

namespace prism {

/// A reduction as the executor applies it. ncclAvg is Sum with `average`; a PreMulSum op
/// is Sum with `preMultiply`: each contribution is scaled as it is first read from the
/// caller's input buffer, so the scaling happens exactly once per contribution.
struct Reduction {
  ReduceOp op = ReduceOp::Sum;
  bool average = false;
  bool preMultiply = false;
  /// The PreMulSum scalar, one element of the operation's data type. When `scalarSource`
  /// is set (ncclScalarDevice residence) it is re-read from there at every execution.
  std::array<std::byte, 8> scalar{};
  const void* scalarSource = nullptr;
};

}  // namespace prism
