// Host element kernels: the reducer and copier that the executor plugs in for host memory.
// fp16, bf16 and fp8 are reduced in float and rounded to nearest even; fp8 conversions
// saturate to the largest finite value (like CUDA's __NV_SATFINITE) and keep NaN.
#pragma once

#include <cstddef>

#include "base/dtype.h"

namespace prism::kernels {

/// dst[i] = a[i] (op) b[i] for i < count. dst may alias a or b exactly (not partially).
void reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count);

/// dst[i] = src[i] * scalar, where *scalar is one element of `type`. Used for PreMulSum.
/// Integers multiply with wrap-around; narrow floats multiply in float and round.
void scale(DataType type, void* dst, const void* src, const void* scalar, size_t count);

/// dst[i] = src[i] / divisor (ncclAvg's final step). Integers truncate toward zero like C;
/// floats divide in float (double for Float64) and round.
void divide(DataType type, void* dst, const void* src, int divisor, size_t count);

}  // namespace prism::kernels
