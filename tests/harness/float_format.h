// Independent converters between double and the narrow binary floating formats NCCL
// reduces (IEEE half, bfloat16, OCP fp8 e4m3 and e5m2), written from the format
// definitions alone so that they can judge the library's own kernels.
#pragma once

#include <cstdint>

namespace prism::test {

/// A binary floating format: 1 sign bit, `expBits` exponent bits, `mantBits` fraction
/// bits, bias 2^(expBits-1)-1. `ieeeSpecials`: the all-ones exponent encodes Inf/NaN
/// (IEEE style). Otherwise (fp8 e4m3 "FN"), there is no infinity and only the all-ones
/// pattern S.1111.111 is NaN, so the top exponent still holds finite values up to 448.
struct FloatFormat {
  int expBits;
  int mantBits;
  bool ieeeSpecials;

  int bias() const { return (1 << (expBits - 1)) - 1; }
  int totalBits() const { return 1 + expBits + mantBits; }
};

inline constexpr FloatFormat kHalfFormat{5, 10, true};
inline constexpr FloatFormat kBfloat16Format{8, 7, true};
inline constexpr FloatFormat kE4m3Format{4, 3, false};
inline constexpr FloatFormat kE5m2Format{5, 2, true};
inline constexpr FloatFormat kFloat32Format{8, 23, true};
inline constexpr FloatFormat kFloat64Format{11, 52, true};

/// The value of the bit pattern `bits` (low totalBits() bits used).
double decodeFloat(uint64_t bits, const FloatFormat& format);

/// `value` rounded to the nearest representable value, ties to even. Values beyond the
/// largest finite one become Inf (IEEE formats) or NaN (e4m3). For formats up to 32 bits.
uint32_t encodeFloat(double value, const FloatFormat& format);

/// True if `bits` is neither Inf nor NaN.
bool isFiniteBits(uint64_t bits, const FloatFormat& format);

/// The spacing of representable values in the binade holding |value| (the subnormal
/// spacing below the smallest normal). One unit in the last place.
double ulpAt(double value, const FloatFormat& format);

}  // namespace prism::test
