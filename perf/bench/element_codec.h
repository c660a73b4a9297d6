// Reading and writing single elements of any NCCL type as doubles, so the benchmark's
// reference check can be written once for all 12 types.
#pragma once

#include <cstddef>

#include "nccl.h"

namespace prism::bench {

/// Stores `value` as element `index` of `buffer`, rounding to nearest (ties to even) for
/// the floating types and truncating for the integer types.
void storeElement(ncclDataType_t type, void* buffer, size_t index, double value);

/// Element `index` of `buffer`, widened to double (exact for every type but 64-bit
/// integers above 2^53).
double loadElement(ncclDataType_t type, const void* buffer, size_t index);

/// The largest n such that every integer in [0, n] is exact in `type`, capped at 2^20 so
/// that callers can multiply it without overflow worries.
double exactIntegerLimit(ncclDataType_t type);

/// The distance from 1 to the next larger value of `type` (0 for integer types).
double typeEpsilon(ncclDataType_t type);

}  // namespace prism::bench
