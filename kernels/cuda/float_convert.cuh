// Device twins of kernels/host/float_convert_inl.h: the same integer bit manipulation, so
// that a GPU result equals the host's bit for bit (tests/device_reduce_test.cc checks it).
// CUDA's __float2half_rn and __nv_cvt_float_to_fp8 are not used: they return a different
// NaN encoding than the host (which keeps the input's sign), so they would not agree.
//
// The two float additions below (subnormal rounding and decoding) are exact or correctly
// rounded only with denormals kept: the target compiles with -ftz=false (CMakeLists.txt).
#pragma once

#include <cstdint>

namespace prism::kernels::device {

/// A narrow sign-magnitude format, the same description the host encoder uses.
template <int kMantBits, int kBias, int kSignBit, uint32_t kMaxFinite, uint32_t kOverflow,
          uint32_t kNan>
struct NarrowFormat {
  static constexpr int mantBits = kMantBits;
  static constexpr int bias = kBias;
  static constexpr int signBit = kSignBit;
  static constexpr uint32_t maxFinite = kMaxFinite;
  static constexpr uint32_t overflowPattern = kOverflow;
  static constexpr uint32_t nanPattern = kNan;
};
using HalfFormat = NarrowFormat<10, 15, 15, 0x7bff, 0x7c00, 0x7e00>;
using E4m3Format = NarrowFormat<3, 7, 7, 0x7e, 0x7e, 0x7f>;
using E5m2Format = NarrowFormat<2, 15, 7, 0x7b, 0x7b, 0x7f>;

__device__ __forceinline__ uint32_t floatBits(float f) { return __float_as_uint(f); }
__device__ __forceinline__ float bitsFloat(uint32_t b) { return __uint_as_float(b); }

/// Float bit pattern of 2^e for a normal float exponent e.
__host__ __device__ constexpr uint32_t pow2Bits(int e) {
  return static_cast<uint32_t>(e + 127) << 23;
}

/// Smallest float magnitude (as bits) that rounds past F's largest finite value.
template <typename F>
__host__ __device__ constexpr uint32_t overflowThresholdBits() {
  int exp = static_cast<int>(F::maxFinite >> F::mantBits) - F::bias;
  uint32_t mant = F::maxFinite & ((1u << F::mantBits) - 1);
  return (pow2Bits(exp) | (mant << (23 - F::mantBits))) + (1u << (22 - F::mantBits));
}

/// Rounds f to format F, nearest-even, with F's overflow and NaN rules (host: encodeNarrow).
template <typename F>
__device__ __forceinline__ uint32_t encodeNarrow(float f) {
  constexpr int kShift = 23 - F::mantBits;
  constexpr uint32_t kMinNormalBits = pow2Bits(1 - F::bias);
  constexpr uint32_t kMagicBits = pow2Bits(24 - F::bias - F::mantBits);
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 31) << F::signBit;
  x &= 0x7fffffffu;
  uint32_t r;
  if (x < kMinNormalBits) {
    // The magic addend's ulp is the target's subnormal step, so one rounded addition
    // leaves the correctly rounded subnormal in the low bits of the sum.
    r = floatBits(__fadd_rn(bitsFloat(x), bitsFloat(kMagicBits))) - kMagicBits;
  } else {
    uint32_t normal = x - (static_cast<uint32_t>(127 - F::bias) << 23);
    r = (normal + (1u << (kShift - 1)) - 1 + ((normal >> kShift) & 1)) >> kShift;
  }
  r = x >= overflowThresholdBits<F>() ? F::overflowPattern : r;
  r = x > 0x7f800000u ? F::nanPattern : r;
  return sign | r;
}

__device__ __forceinline__ float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t em = h & 0x7fffu;
  uint32_t normal = (em << 13) + (112u << 23);
  uint32_t r = em >= 0x7c00u ? normal + (112u << 23) : normal;  // inf/NaN keep the payload
  if (em < 0x400u) {
    // m * 2^-24 as 2^-14 * (1 + m/1024) - 2^-14: exact.
    r = floatBits(__fsub_rn(bitsFloat(normal + (1u << 23)), bitsFloat(pow2Bits(-14))));
  }
  return bitsFloat(r | sign);
}

__device__ __forceinline__ uint16_t floatToHalf(float f) {
  return static_cast<uint16_t>(encodeNarrow<HalfFormat>(f));
}

__device__ __forceinline__ float bf16ToFloat(uint16_t b) {
  return bitsFloat(static_cast<uint32_t>(b) << 16);
}

__device__ __forceinline__ uint16_t floatToBf16(float f) {
  uint32_t x = floatBits(f);
  uint32_t nan = (x >> 16) | 0x40;  // quiet, sign and top payload kept
  uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1)) >> 16;
  return static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

/// Decodes an fp8 value exactly as the host's table does: NaN becomes the quiet NaN with
/// the input's sign, subnormals are computed like halfToFloat's.
template <int kMantBits, int kBias, bool kHasInf>
__device__ __forceinline__ float fp8ToFloat(uint8_t v) {
  constexpr uint32_t kRebias = static_cast<uint32_t>(127 - kBias) << 23;
  uint32_t sign = static_cast<uint32_t>(v >> 7) << 31;
  uint32_t em = v & 0x7fu;
  uint32_t normal = (em << (23 - kMantBits)) + kRebias;
  uint32_t r = normal;
  if (em < (1u << kMantBits)) {
    r = floatBits(__fsub_rn(bitsFloat(normal + (1u << 23)), bitsFloat(pow2Bits(1 - kBias))));
  }
  if constexpr (kHasInf) {
    constexpr uint32_t kTop = 0x7fu >> kMantBits << kMantBits;
    if (em >= kTop) r = em == kTop ? 0x7f800000u : 0x7fc00000u;
  } else {
    if (em == 0x7fu) r = 0x7fc00000u;
  }
  return bitsFloat(r | sign);
}

__device__ __forceinline__ float e4m3ToFloat(uint8_t v) { return fp8ToFloat<3, 7, false>(v); }
__device__ __forceinline__ uint8_t floatToE4m3(float f) {
  return static_cast<uint8_t>(encodeNarrow<E4m3Format>(f));
}
__device__ __forceinline__ float e5m2ToFloat(uint8_t v) { return fp8ToFloat<2, 15, true>(v); }
__device__ __forceinline__ uint8_t floatToE5m2(float f) {
  return static_cast<uint8_t>(encodeNarrow<E5m2Format>(f));
}

}  // namespace prism::kernels::device
