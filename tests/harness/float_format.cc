#include "harness/float_format.h"

#include <bit>
#include <cmath>

namespace prism::test {
namespace {

// The double's fields: 1 sign bit, 11 exponent bits (bias 1023), 52 fraction bits.
constexpr int kDoubleFraction = 52;
constexpr int kDoubleBias = 1023;

uint64_t exponentField(uint64_t bits, const FloatFormat& f) {
  return (bits >> f.mantBits) & ((uint64_t{1} << f.expBits) - 1);
}

uint64_t mantissaField(uint64_t bits, const FloatFormat& f) {
  return bits & ((uint64_t{1} << f.mantBits) - 1);
}

uint64_t maxExponentField(const FloatFormat& f) { return (uint64_t{1} << f.expBits) - 1; }

// 2^k as a double.
double pow2(int k) {
  if (k < 1 - kDoubleBias) return std::ldexp(1.0, k);  // double subnormal range
  return std::bit_cast<double>(static_cast<uint64_t>(k + kDoubleBias) << kDoubleFraction);
}

uint32_t nanBits(bool negative, const FloatFormat& f) {
  const uint32_t sign = negative ? uint32_t{1} << (f.expBits + f.mantBits) : 0;
  if (!f.ieeeSpecials) return sign | ((uint32_t{1} << (f.expBits + f.mantBits)) - 1);
  // Quiet NaN: all-ones exponent, top fraction bit set.
  return sign | static_cast<uint32_t>(maxExponentField(f) << f.mantBits) |
         (uint32_t{1} << (f.mantBits - 1));
}

// x >> shift, rounded to nearest, ties to even.
uint64_t shiftRoundEven(uint64_t x, int shift) {
  if (shift == 0) return x;
  if (shift > 63) return 0;  // callers pass x < 2^54, so x < half of 2^shift
  const uint64_t q = x >> shift;
  const uint64_t rest = x & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  return (rest > half || (rest == half && (q & 1))) ? q + 1 : q;
}

}  // namespace

bool isFiniteBits(uint64_t bits, const FloatFormat& f) {
  if (exponentField(bits, f) != maxExponentField(f)) return true;
  if (f.ieeeSpecials) return false;
  return mantissaField(bits, f) != (uint64_t{1} << f.mantBits) - 1;
}

double decodeFloat(uint64_t bits, const FloatFormat& f) {
  const bool negative = (bits >> (f.expBits + f.mantBits)) & 1;
  const uint64_t e = exponentField(bits, f);
  const uint64_t m = mantissaField(bits, f);
  if (f.expBits == 11) return std::bit_cast<double>(bits);  // the format is double itself
  double magnitude;
  if (!isFiniteBits(bits, f)) {
    magnitude = (f.ieeeSpecials && m == 0) ? INFINITY : NAN;
  } else if (e == 0) {
    // Subnormal: m * 2^(1 - bias - mantBits), exact in double.
    magnitude = static_cast<double>(m) * pow2(1 - f.bias() - f.mantBits);
  } else {
    // Normal: rebias the exponent and widen the fraction into a double.
    const uint64_t exponent = e - f.bias() + kDoubleBias;
    magnitude =
        std::bit_cast<double>(exponent << kDoubleFraction | m << (kDoubleFraction - f.mantBits));
  }
  return negative ? -magnitude : magnitude;
}

uint32_t encodeFloat(double value, const FloatFormat& f) {
  const uint64_t d = std::bit_cast<uint64_t>(value);
  const bool negative = d >> 63;
  const uint32_t sign = negative ? uint32_t{1} << (f.expBits + f.mantBits) : 0;
  if (std::isnan(value)) return nanBits(negative, f);
  const uint32_t overflow = f.ieeeSpecials
                                ? sign | static_cast<uint32_t>(maxExponentField(f) << f.mantBits)
                                : nanBits(negative, f);
  if (std::isinf(value)) return overflow;
  const int doubleExponent = static_cast<int>((d >> kDoubleFraction) & 0x7ff);
  if (doubleExponent == 0) return sign;  // zero, or far below every narrow subnormal
  // |value| = significand * 2^(exponent - 52), significand with its implicit leading 1.
  const uint64_t significand =
      (d & ((uint64_t{1} << kDoubleFraction) - 1)) | (uint64_t{1} << kDoubleFraction);
  const int exponent = doubleExponent - kDoubleBias;
  const int minExponent = 1 - f.bias();
  if (exponent < minExponent) {
    // Subnormal result: the quantum is 2^(minExponent - mantBits). A carry up to 2^mantBits
    // lands exactly on the smallest normal encoding.
    const int shift = kDoubleFraction - f.mantBits + (minExponent - exponent);
    return sign | static_cast<uint32_t>(shiftRoundEven(significand, shift));
  }
  uint64_t q = shiftRoundEven(significand, kDoubleFraction - f.mantBits);
  uint64_t exponentBits = static_cast<uint64_t>(exponent + f.bias());
  if (q >> (f.mantBits + 1)) {  // rounding carried into the next binade
    q >>= 1;
    ++exponentBits;
  }
  if (exponentBits > maxExponentField(f)) return overflow;
  const uint32_t bits = sign | static_cast<uint32_t>(exponentBits << f.mantBits) |
                        static_cast<uint32_t>(q & ((uint64_t{1} << f.mantBits) - 1));
  return isFiniteBits(bits, f) ? bits : overflow;
}

double ulpAt(double value, const FloatFormat& f) {
  const int doubleExponent =
      static_cast<int>((std::bit_cast<uint64_t>(value) >> kDoubleFraction) & 0x7ff);
  const int minExponent = 1 - f.bias();
  int exponent = doubleExponent - kDoubleBias;
  if (doubleExponent == 0 || exponent < minExponent) exponent = minExponent;
  return pow2(exponent - f.mantBits);
}

}  // namespace prism::test
