// Independent converters between double and the narrow binary floating formats NCCL
// reduces (IEEE half, bfloat16, OCP fp8 e4m3 and e5m2), written from the format
// definitions alone so that they can judge the library's own kernels.
#pragma once

#include <bit>
#include <cmath>
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

// Definitions follow: the formats are decoded and encoded with integer operations on the
// fields of a double, which is exact for every format here. They are forced inline so that
// reference loops over millions of elements fold the format constants (measured: the
// out-of-line calls took 15-20% of the matrix tests).
namespace detail {

// The double's fields: 1 sign bit, 11 exponent bits (bias 1023), 52 fraction bits.
constexpr int kDoubleFraction = 52;
constexpr int kDoubleBias = 1023;

[[gnu::always_inline]] inline uint64_t exponentField(uint64_t bits, const FloatFormat& f) {
  return (bits >> f.mantBits) & ((uint64_t{1} << f.expBits) - 1);
}

[[gnu::always_inline]] inline uint64_t mantissaField(uint64_t bits, const FloatFormat& f) {
  return bits & ((uint64_t{1} << f.mantBits) - 1);
}

[[gnu::always_inline]] inline uint64_t maxExponentField(const FloatFormat& f) {
  return (uint64_t{1} << f.expBits) - 1;
}

// 2^k as a double.
[[gnu::always_inline]] inline double pow2(int k) {
  if (k < 1 - kDoubleBias) return std::ldexp(1.0, k);  // double subnormal range
  return std::bit_cast<double>(static_cast<uint64_t>(k + kDoubleBias) << kDoubleFraction);
}

[[gnu::always_inline]] inline uint32_t nanBits(bool negative, const FloatFormat& f) {
  const uint32_t sign = negative ? uint32_t{1} << (f.expBits + f.mantBits) : 0;
  if (!f.ieeeSpecials) return sign | ((uint32_t{1} << (f.expBits + f.mantBits)) - 1);
  // Quiet NaN: all-ones exponent, top fraction bit set.
  return sign | static_cast<uint32_t>(maxExponentField(f) << f.mantBits) |
         (uint32_t{1} << (f.mantBits - 1));
}

// x >> shift, rounded to nearest, ties to even.
[[gnu::always_inline]] inline uint64_t shiftRoundEven(uint64_t x, int shift) {
  if (shift == 0) return x;
  if (shift > 63) return 0;  // callers pass x < 2^54, so x < half of 2^shift
  const uint64_t q = x >> shift;
  const uint64_t rest = x & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  return (rest > half || (rest == half && (q & 1))) ? q + 1 : q;
}

}  // namespace detail

/// True if `bits` is neither Inf nor NaN.
[[gnu::always_inline]] inline bool isFiniteBits(uint64_t bits, const FloatFormat& f) {
  if (detail::exponentField(bits, f) != detail::maxExponentField(f)) return true;
  if (f.ieeeSpecials) return false;
  return detail::mantissaField(bits, f) != (uint64_t{1} << f.mantBits) - 1;
}

/// The value of the bit pattern `bits` (low totalBits() bits used).
[[gnu::always_inline]] inline double decodeFloat(uint64_t bits, const FloatFormat& f) {
  const bool negative = (bits >> (f.expBits + f.mantBits)) & 1;
  const uint64_t e = detail::exponentField(bits, f);
  const uint64_t m = detail::mantissaField(bits, f);
  if (f.expBits == 11) return std::bit_cast<double>(bits);  // the format is double itself
  double magnitude;
  if (!isFiniteBits(bits, f)) {
    magnitude = (f.ieeeSpecials && m == 0) ? INFINITY : NAN;
  } else if (e == 0) {
    // Subnormal: m * 2^(1 - bias - mantBits), exact in double.
    magnitude = static_cast<double>(m) * detail::pow2(1 - f.bias() - f.mantBits);
  } else {
    // Normal: rebias the exponent and widen the fraction into a double.
    const uint64_t exponent = e - f.bias() + detail::kDoubleBias;
    magnitude = std::bit_cast<double>(exponent << detail::kDoubleFraction |
                                      m << (detail::kDoubleFraction - f.mantBits));
  }
  return negative ? -magnitude : magnitude;
}

/// `value` rounded to the nearest representable value, ties to even. Values beyond the
/// largest finite one become Inf (IEEE formats) or NaN (e4m3). For formats up to 32 bits.
[[gnu::always_inline]] inline uint32_t encodeFloat(double value, const FloatFormat& f) {
  const uint64_t d = std::bit_cast<uint64_t>(value);
  const bool negative = d >> 63;
  const uint32_t sign = negative ? uint32_t{1} << (f.expBits + f.mantBits) : 0;
  if (std::isnan(value)) return detail::nanBits(negative, f);
  const uint32_t overflow =
      f.ieeeSpecials ? sign | static_cast<uint32_t>(detail::maxExponentField(f) << f.mantBits)
                     : detail::nanBits(negative, f);
  if (std::isinf(value)) return overflow;
  const int doubleExponent = static_cast<int>((d >> detail::kDoubleFraction) & 0x7ff);
  if (doubleExponent == 0) return sign;  // zero, or far below every narrow subnormal
  // |value| = significand * 2^(exponent - 52), significand with its implicit leading 1.
  const uint64_t significand = (d & ((uint64_t{1} << detail::kDoubleFraction) - 1)) |
                               (uint64_t{1} << detail::kDoubleFraction);
  const int exponent = doubleExponent - detail::kDoubleBias;
  const int minExponent = 1 - f.bias();
  if (exponent < minExponent) {
    // Subnormal result: the quantum is 2^(minExponent - mantBits). A carry up to 2^mantBits
    // lands exactly on the smallest normal encoding.
    const int shift = detail::kDoubleFraction - f.mantBits + (minExponent - exponent);
    return sign | static_cast<uint32_t>(detail::shiftRoundEven(significand, shift));
  }
  uint64_t q = detail::shiftRoundEven(significand, detail::kDoubleFraction - f.mantBits);
  uint64_t exponentBits = static_cast<uint64_t>(exponent + f.bias());
  if (q >> (f.mantBits + 1)) {  // rounding carried into the next binade
    q >>= 1;
    ++exponentBits;
  }
  if (exponentBits > detail::maxExponentField(f)) return overflow;
  const uint32_t bits = sign | static_cast<uint32_t>(exponentBits << f.mantBits) |
                        static_cast<uint32_t>(q & ((uint64_t{1} << f.mantBits) - 1));
  return isFiniteBits(bits, f) ? bits : overflow;
}

/// The spacing of representable values in the binade holding |value| (the subnormal
/// spacing below the smallest normal): one unit in the last place.
[[gnu::always_inline]] inline double ulpAt(double value, const FloatFormat& f) {
  const int doubleExponent =
      static_cast<int>((std::bit_cast<uint64_t>(value) >> detail::kDoubleFraction) & 0x7ff);
  const int minExponent = 1 - f.bias();
  int exponent = doubleExponent - detail::kDoubleBias;
  if (doubleExponent == 0 || exponent < minExponent) exponent = minExponent;
  return detail::pow2(exponent - f.mantBits);
}

}  // namespace prism::test
