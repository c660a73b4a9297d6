// Explicit AVX-512 loops for the 16-bit float types: reduce_avx2.cc's in-register
// conversions on 16 lanes instead of 8. The results are the same bits as the portable loops
// (tests/kernels_test.cc checks every op on random bit patterns, NaN included).
#pragma once

#include <cstddef>

#include "base/dtype.h"

namespace prism::kernels {

/// dst = a (op) b for Float16 or Bfloat16 when this CPU has AVX-512 F and BW; false, with
/// nothing written, when it does not or `type` is another type.
bool reduceNarrow16Avx512(DataType type, ReduceOp op, void* dst, const void* a, const void* b,
                          size_t count);

}  // namespace prism::kernels
