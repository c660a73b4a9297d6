// Per-element codecs and reduce operators for the CUDA kernels, mirroring the host's
// kernels/host/reduce.cc: a codec turns a stored element into the value arithmetic runs on
// (load) and back (store); an operator combines two such values.
//
// NaN results follow the host CPU, because CUDA's float arithmetic returns one canonical
// NaN (0x7fffffff) where x86 returns a quieted input: a NaN result is the first NaN input,
// quieted, or the CPU's default NaN when the inputs were not NaN (inf - inf, 0 * inf).
// When both inputs are NaN the host's choice depends on how its compiler ordered the
// operands, so the device takes the first and the tests accept either.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/float_convert.cuh"

namespace prism::kernels::device {

// The CPU's default NaN: x86 sets the sign bit, Arm does not.
#if defined(__aarch64__)
inline constexpr uint32_t kDefaultNanF = 0x7fc00000u;
inline constexpr uint64_t kDefaultNanD = 0x7ff8000000000000ull;
#else
inline constexpr uint32_t kDefaultNanF = 0xffc00000u;
inline constexpr uint64_t kDefaultNanD = 0xfff8000000000000ull;
#endif

__device__ __forceinline__ float hostNan(float r, float a, float b) {
  if (r == r) return r;
  if (a != a) return bitsFloat(floatBits(a) | 0x00400000u);
  if (b != b) return bitsFloat(floatBits(b) | 0x00400000u);
  return bitsFloat(kDefaultNanF);
}

__device__ __forceinline__ double hostNan(double r, double a, double b) {
  if (r == r) return r;
  auto bits = [](double d) { return static_cast<uint64_t>(__double_as_longlong(d)); };
  auto quiet = [&](double d) { return __longlong_as_double(bits(d) | 0x0008000000000000ull); };
  if (a != a) return quiet(a);
  if (b != b) return quiet(b);
  return __longlong_as_double(static_cast<long long>(kDefaultNanD));
}

/// The unsigned type integer Sum/Prod run in, so that overflow wraps.
template <typename T>
using Wrap = std::conditional_t<std::is_integral_v<T>, std::make_unsigned_t<T>, T>;

// Explicit _rn intrinsics: never contracted into an FMA, whatever -fmad says.
struct SumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, float>) {
      return hostNan(__fadd_rn(a, b), a, b);
    } else if constexpr (std::is_same_v<T, double>) {
      return hostNan(__dadd_rn(a, b), a, b);
    } else {
      return static_cast<T>(static_cast<Wrap<T>>(a) + static_cast<Wrap<T>>(b));
    }
  }
};

struct ProdOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, float>) {
      return hostNan(__fmul_rn(a, b), a, b);
    } else if constexpr (std::is_same_v<T, double>) {
      return hostNan(__dmul_rn(a, b), a, b);
    } else {
      return static_cast<T>(static_cast<Wrap<T>>(a) * static_cast<Wrap<T>>(b));
    }
  }
};

// Max/Min: the host's exact expressions. A NaN `a` wins (unquieted), then a NaN `b`;
// operands that compare equal (+0, -0) give `b`.
struct MaxOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    return (a > b || a != a) ? a : b;
  }
};

struct MinOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    return (a < b || a != a) ? a : b;
  }
};

/// Division as the host's divideLoop does it: integers in 32 or 64 bits, truncating;
/// floats in their compute type, correctly rounded.
template <typename T>
__device__ __forceinline__ T divideBy(T x, int divisor) {
  if constexpr (std::is_same_v<T, float>) {
    float r = __fdiv_rn(x, __int2float_rn(divisor));
    return r == r ? r : hostNan(r, x, 1.0f);
  } else if constexpr (std::is_same_v<T, double>) {
    double r = __ddiv_rn(x, static_cast<double>(divisor));
    return r == r ? r : hostNan(r, x, 1.0);
  } else {
    using Wide = std::conditional_t<sizeof(T) == 8, T,
                                    std::conditional_t<std::is_signed_v<T>, int32_t, uint32_t>>;
    return static_cast<T>(static_cast<Wide>(x) / static_cast<Wide>(divisor));
  }
}

/// Stored type == compute type.
template <typename T>
struct NativeCodec {
  using Storage = T;
  using Compute = T;
  __device__ __forceinline__ static T load(T v) { return v; }
  __device__ __forceinline__ static T store(T v) { return v; }
};

struct HalfCodec {
  using Storage = uint16_t;
  using Compute = float;
  __device__ __forceinline__ static float load(uint16_t v) { return halfToFloat(v); }
  __device__ __forceinline__ static uint16_t store(float f) { return floatToHalf(f); }
};

struct Bf16Codec {
  using Storage = uint16_t;
  using Compute = float;
  __device__ __forceinline__ static float load(uint16_t v) { return bf16ToFloat(v); }
  __device__ __forceinline__ static uint16_t store(float f) { return floatToBf16(f); }
};

struct E4m3Codec {
  using Storage = uint8_t;
  using Compute = float;
  __device__ __forceinline__ static float load(uint8_t v) { return e4m3ToFloat(v); }
  __device__ __forceinline__ static uint8_t store(float f) { return floatToE4m3(f); }
};

struct E5m2Codec {
  using Storage = uint8_t;
  using Compute = float;
  __device__ __forceinline__ static float load(uint8_t v) { return e5m2ToFloat(v); }
  __device__ __forceinline__ static uint8_t store(float f) { return floatToE5m2(f); }
};

}  // namespace prism::kernels::device
