// Inline bodies of the narrow-float conversions (see float_convert.h for the formats). The
// reduce loops include this header so that no element pays for an out-of-line call;
// float_convert.cc exposes the same functions with external linkage.
//
// Every encoder rounds to nearest, ties to even. The fp16 and fp8 encoders share one body
// parameterised by a NarrowFormat; bf16 is float's upper half and has its own short path.
// Subnormal results are rounded by one float addition of a "magic" power of two whose ulp
// equals the target format's subnormal step, so they rely on the default FP rounding mode.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace prism::kernels::inl {

/// A sign-magnitude binary format narrower than float, described by what the encoder needs.
struct NarrowFormat {
  int mantBits;
  int bias;
  int signBit;
  uint32_t maxFinite;        // magnitude pattern of the largest finite value
  uint32_t overflowPattern;  // result for magnitudes that round past maxFinite
  uint32_t nanPattern;
};

// fp16 overflows to infinity; both fp8 formats saturate (CUDA's __NV_SATFINITE), which
// also sends +-inf to +-max. NaN results are the quiet pattern with the input's sign.
inline constexpr NarrowFormat kHalf{10, 15, 15, 0x7bff, 0x7c00, 0x7e00};
inline constexpr NarrowFormat kE4m3{3, 7, 7, 0x7e, 0x7e, 0x7f};
inline constexpr NarrowFormat kE5m2{2, 15, 7, 0x7b, 0x7b, 0x7f};

inline uint32_t floatBits(float f) { return std::bit_cast<uint32_t>(f); }
inline float bitsFloat(uint32_t b) { return std::bit_cast<float>(b); }

/// `c ? a : b` spelled as masks. GCC sinks a float operation used by only one arm of a
/// ?: into a branch and then refuses to vectorise it (the operation "could trap"); a mask
/// keeps every candidate live, so the conversion loops vectorise and never mispredict.
inline uint32_t select(bool c, uint32_t a, uint32_t b) {
  uint32_t mask = 0u - static_cast<uint32_t>(c);
  return (a & mask) | (b & ~mask);
}

/// Float bit pattern of 2^e for a normal float exponent e.
constexpr uint32_t pow2Bits(int e) { return static_cast<uint32_t>(e + 127) << 23; }

/// Float bit pattern of F's largest finite value plus half an ulp: the smallest magnitude
/// that rounds past it. fp16's largest mantissa is odd, so that tie rounds to infinity;
/// the fp8 formats saturate, so for them the tie's direction makes no difference.
template <NarrowFormat F>
constexpr uint32_t overflowThresholdBits() {
  int exp = static_cast<int>(F.maxFinite >> F.mantBits) - F.bias;
  uint32_t mant = F.maxFinite & ((1u << F.mantBits) - 1);
  return (pow2Bits(exp) | (mant << (23 - F.mantBits))) + (1u << (22 - F.mantBits));
}

/// Rounds `f` to format F, nearest-even, with F's overflow and NaN rules.
template <NarrowFormat F>
inline uint32_t encodeNarrow(float f) {
  constexpr int kShift = 23 - F.mantBits;
  constexpr uint32_t kMinNormalBits = pow2Bits(1 - F.bias);
  constexpr uint32_t kMagicBits = pow2Bits(24 - F.bias - F.mantBits);
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 31) << F.signBit;
  x &= 0x7fffffffu;
  // Every candidate is computed and one is selected (see select()).
  // Subnormal result: adding the magic value rounds x to a multiple of the subnormal step
  // 2^(1-bias-mant), which then sits in the low bits of the sum.
  uint32_t subnormal = floatBits(bitsFloat(x) + bitsFloat(kMagicBits)) - kMagicBits;
  // Normal result: rebias the exponent, then round the dropped bits by adding
  // half-minus-one plus the kept LSB, so that exact ties go to even; a carry into the
  // exponent is the correctly rounded result. Garbage (wrapped) for x below normal range.
  uint32_t normal = x - (static_cast<uint32_t>(127 - F.bias) << 23);
  normal = (normal + (1u << (kShift - 1)) - 1 + ((normal >> kShift) & 1)) >> kShift;
  uint32_t r = select(x < kMinNormalBits, subnormal, normal);
  r = select(x >= overflowThresholdBits<F>(), F.overflowPattern, r);
  r = select(x > 0x7f800000u, F.nanPattern, r);
  return sign | r;
}

inline float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t em = h & 0x7fffu;
  // Every candidate is computed and one is selected (see select()).
  // Normal: shift exponent+mantissa into place and rebias by 127-15 = 112.
  uint32_t normal = (em << 13) + (112u << 23);
  uint32_t infNan = normal + (112u << 23);  // exponent all ones; NaN payload kept
  // Subnormal m*2^-24: build 2^-14 * (1 + m/1024) and subtract 2^-14. Exact, and without
  // denormal float arithmetic (slow on some cores, and flushed to zero under DAZ).
  uint32_t subnormal = floatBits(bitsFloat(normal + (1u << 23)) - bitsFloat(pow2Bits(-14)));
  uint32_t r = select(em >= 0x7c00u, infNan, normal);
  r = select(em < 0x400u, subnormal, r);
  return bitsFloat(r | sign);
}

inline uint16_t floatToHalf(float f) { return static_cast<uint16_t>(encodeNarrow<kHalf>(f)); }

inline float bf16ToFloat(uint16_t b) { return bitsFloat(static_cast<uint32_t>(b) << 16); }

inline uint16_t floatToBf16(float f) {
  uint32_t x = floatBits(f);
  // NaN: keep sign and top payload, force the quiet bit so truncation cannot make inf.
  uint32_t nan = (x >> 16) | 0x40;
  // Same exponent width as float, so rounding the low 16 bits covers subnormals, and a
  // carry out of the largest finite value produces infinity as IEEE rounding requires.
  uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1)) >> 16;
  return static_cast<uint16_t>(select((x & 0x7fffffffu) > 0x7f800000u, nan, rounded));
}

/// Decodes every 8-bit pattern of an fp8 format once, at compile time.
template <int kMantBits, int kBias, bool kHasInf>
constexpr std::array<float, 256> makeFp8Table() {
  std::array<float, 256> table{};
  for (uint32_t v = 0; v < 256; ++v) {
    uint32_t sign = (v >> 7) << 31;
    uint32_t exp = (v & 0x7f) >> kMantBits;
    uint32_t mant = v & ((1u << kMantBits) - 1);
    uint32_t topExp = (0x7fu >> kMantBits);
    uint32_t bits;
    if (kHasInf && exp == topExp) {
      bits = mant == 0 ? 0x7f800000u : 0x7fc00000u;
    } else if (!kHasInf && (v & 0x7f) == 0x7f) {
      bits = 0x7fc00000u;
    } else if (exp == 0) {
      // m * 2^(1-bias-mant): normalise m into float's implicit-one form.
      if (mant == 0) {
        bits = 0;
      } else {
        int lead = 31 - std::countl_zero(mant);
        uint32_t frac = (mant << (23 - lead)) & 0x7fffffu;
        bits = pow2Bits(lead + 1 - kBias - kMantBits) | frac;
      }
    } else {
      bits = pow2Bits(static_cast<int>(exp) - kBias) | (mant << (23 - kMantBits));
    }
    table[v] = std::bit_cast<float>(bits | sign);
  }
  return table;
}

inline constexpr std::array<float, 256> kE4m3Table = makeFp8Table<3, 7, false>();
inline constexpr std::array<float, 256> kE5m2Table = makeFp8Table<2, 15, true>();

inline float e4m3ToFloat(uint8_t v) { return kE4m3Table[v]; }
inline uint8_t floatToE4m3(float f) { return static_cast<uint8_t>(encodeNarrow<kE4m3>(f)); }
inline float e5m2ToFloat(uint8_t v) { return kE5m2Table[v]; }
inline uint8_t floatToE5m2(float f) { return static_cast<uint8_t>(encodeNarrow<kE5m2>(f)); }

}  // namespace prism::kernels::inl
