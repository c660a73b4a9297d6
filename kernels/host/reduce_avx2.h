// Explicit AVX2 loops for the 16-bit float types. GCC's vectorised portable loops convert
// fp16 and bf16 with long integer sequences (slow: perf/RESULTS.md); here fp16 converts
// with F16C's vcvtph2ps/vcvtps2ph and bf16 with two shifts, in registers, and the results
// are the same bits as the portable loops (tests/kernels_test.cc checks every op on random
// bit patterns, NaN included).
#pragma once

#include <cstddef>

#include "base/dtype.h"

namespace prism::kernels {

/// dst = a (op) b for Float16 or Bfloat16 when this CPU has AVX2 (and F16C for Float16);
/// false, with nothing written, when it does not or `type` is another type.
bool reduceNarrow16Avx2(DataType type, ReduceOp op, void* dst, const void* a, const void* b,
                        size_t count);

}  // namespace prism::kernels
