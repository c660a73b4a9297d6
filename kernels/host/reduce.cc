// Host element kernels. One loop template per operation, instantiated for every element
// codec and reduce op; the loops are plain indexed loops so that GCC vectorises them at -O3
// (set for this file in CMakeLists.txt).
//
// Dispatch: each entry point is compiled twice by target_clones, for baseline x86-64 and for
// AVX2, and an ifunc picks one per process from the CPU's feature bits. `flatten` inlines
// the visitors, lambdas and loops into each clone; without it the loops stay out of line
// and only ever get the baseline's SSE2 code. fp16/bf16/fp8 are bound by the integer bit
// manipulation in float_convert_inl.h, which AVX2's 8-lane integer ops speed up
// (perf/micro/reduce_bench.cc; figures in perf/RESULTS.md). fp16 and bf16 reductions take
// reduce_avx2.cc's explicit F16C / shift loops where the CPU has them, or
// reduce_avx512.cc's 16-lane versions where it has AVX-512; these loops remain their
// fallback and the definition of the bits. FMA stays out of the target list: contraction would
// change rounding, and both clones must produce the same bits (the CUDA kernels are tested bit for
// bit against these loops). F16C is not used either: vcvtps2ph keeps NaN payload bits, where our
// encoder writes the canonical sign|0x7e00.
//
// Semantics beyond the header:
// - Integer Sum/Prod wrap modulo 2^bits: the arithmetic runs in the unsigned type, and the
//   conversion back to a signed type is modular in C++20.
// - Float Max/Min propagate NaN: if either input is NaN the result is NaN (the first
//   operand's when both are). For equal-comparing operands (+0 and -0) the result is `b`.
// - fp16/bf16/fp8 compute in float and round once to the narrow format. The float sum
//   of two far-apart values is itself rounded, but float's 24 bits are at least 2p+2 for
//   every narrow precision p (11, 8, 4, 3), so that double rounding still yields the
//   correctly rounded narrow result; products of two narrow values are exact in float.
// - Float32 divides in float, Float64 in double, integers in 32 bits (64 for 64-bit types).
#include "kernels/host/reduce.h"

#include <bit>
#include <concepts>
#include <cstring>
#include <string>
#include <type_traits>

#include "base/error.h"
#include "kernels/host/float_convert_inl.h"
#include "kernels/host/reduce_avx2.h"
#include "kernels/host/reduce_avx512.h"

namespace prism::kernels {
namespace {

/// How a stored element becomes the value arithmetic runs on (load) and back (store).
template <typename T>
struct Native {
  using Storage = T;
  using Compute = T;
  static T load(T v) { return v; }
  static T store(T v) { return v; }
};

template <float (*kLoad)(uint16_t), uint16_t (*kStore)(float)>
struct Narrow16 {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return kLoad(v); }
  static uint16_t store(float f) { return kStore(f); }
};
using Half = Narrow16<inl::halfToFloat, inl::floatToHalf>;
using Bf16 = Narrow16<inl::bf16ToFloat, inl::floatToBf16>;

template <float (*kLoad)(uint8_t), uint8_t (*kStore)(float)>
struct Narrow8 {
  using Storage = uint8_t;
  using Compute = float;
  static float load(uint8_t v) { return kLoad(v); }
  static uint8_t store(float f) { return kStore(f); }
};
using E4m3 = Narrow8<inl::e4m3ToFloat, inl::floatToE4m3>;
using E5m2 = Narrow8<inl::e5m2ToFloat, inl::floatToE5m2>;

/// The type integer Sum/Prod run in so that overflow wraps instead of being undefined.
template <typename T>
struct WrapType {
  using type = T;
};
template <std::integral T>
struct WrapType<T> {
  using type = std::make_unsigned_t<T>;
};
template <typename T>
using Wrap = typename WrapType<T>::type;

struct Sum {
  template <typename T>
  T operator()(T a, T b) const {
    return static_cast<T>(static_cast<Wrap<T>>(a) + static_cast<Wrap<T>>(b));
  }
};

struct Prod {
  template <typename T>
  T operator()(T a, T b) const {
    return static_cast<T>(static_cast<Wrap<T>>(a) * static_cast<Wrap<T>>(b));
  }
};

struct Max {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a > b || a != a) ? a : b;
    } else {
      return a > b ? a : b;
    }
  }
};

struct Min {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return (a < b || a != a) ? a : b;
    } else {
      return a < b ? a : b;
    }
  }
};

// The error paths stay out of line so that `flatten` does not copy string code into
// every clone.
[[noreturn, gnu::noinline, gnu::cold]] void unknownType(DataType type) {
  throw Error(ncclInvalidArgument, "unknown data type " + std::to_string(static_cast<int>(type)));
}

[[noreturn, gnu::noinline, gnu::cold]] void unknownOp(ReduceOp op) {
  throw Error(ncclInvalidArgument, "unknown reduce op " + std::to_string(static_cast<int>(op)));
}

// A zero divisor is undefined for integers, and INT_MIN / -1 overflows; ncclAvg only ever
// divides by a rank count.
[[noreturn, gnu::noinline, gnu::cold]] void badDivisor() {
  throw Error(ncclInvalidArgument, "divide: divisor must be positive");
}

/// Calls fn(Codec{}) with the codec for `type`.
template <typename Fn>
void visitType(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::Int8:
      return fn(Native<int8_t>{});
    case DataType::Uint8:
      return fn(Native<uint8_t>{});
    case DataType::Int32:
      return fn(Native<int32_t>{});
    case DataType::Uint32:
      return fn(Native<uint32_t>{});
    case DataType::Int64:
      return fn(Native<int64_t>{});
    case DataType::Uint64:
      return fn(Native<uint64_t>{});
    case DataType::Float16:
      return fn(Half{});
    case DataType::Float32:
      return fn(Native<float>{});
    case DataType::Float64:
      return fn(Native<double>{});
    case DataType::Bfloat16:
      return fn(Bf16{});
    case DataType::Float8e4m3:
      return fn(E4m3{});
    case DataType::Float8e5m2:
      return fn(E5m2{});
  }
  unknownType(type);
}

/// Calls fn(Op{}) with the functor for `op`.
template <typename Fn>
void visitOp(ReduceOp op, Fn&& fn) {
  switch (op) {
    case ReduceOp::Sum:
      return fn(Sum{});
    case ReduceOp::Prod:
      return fn(Prod{});
    case ReduceOp::Max:
      return fn(Max{});
    case ReduceOp::Min:
      return fn(Min{});
  }
  unknownOp(op);
}

template <typename Codec, typename Op>
void reduceLoop(typename Codec::Storage* dst, const typename Codec::Storage* a,
                const typename Codec::Storage* b, size_t count, Op op) {
  for (size_t i = 0; i < count; ++i) {
    dst[i] = Codec::store(op(Codec::load(a[i]), Codec::load(b[i])));
  }
}

/// `x` with its quiet bit set: a NaN stays the same NaN, quieted, as x86 arithmetic
/// returns it.
template <typename T>
T quieted(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return std::bit_cast<float>(std::bit_cast<uint32_t>(x) | 0x00400000u);
  } else {
    return std::bit_cast<double>(std::bit_cast<uint64_t>(x) | 0x0008000000000000ull);
  }
}

template <typename Codec>
void scaleLoop(typename Codec::Storage* dst, const typename Codec::Storage* src,
               typename Codec::Compute factor, size_t count) {
  using C = typename Codec::Compute;
  if constexpr (std::is_floating_point_v<C>) {
    if (factor != factor) {
      // x * NaN keeps whichever NaN operand the compiler put first, and GCC 12 and 13 do
      // not agree. Pin the rule the CUDA kernels follow: the element's NaN when it is one,
      // else the factor's, quieted.
      for (size_t i = 0; i < count; ++i) {
        C x = Codec::load(src[i]);
        dst[i] = Codec::store(quieted(x != x ? x : factor));
      }
      return;
    }
  }
  for (size_t i = 0; i < count; ++i) dst[i] = Codec::store(Prod{}(Codec::load(src[i]), factor));
}

/// The type an integer element is divided in: 32-bit division is several times cheaper
/// than 64-bit on x86, and a positive int divisor fits either width.
template <typename T>
using DivType =
    std::conditional_t<sizeof(T) == 8, std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>,
                       std::conditional_t<std::is_signed_v<T>, int32_t, uint32_t>>;

template <typename Codec>
void divideLoop(typename Codec::Storage* dst, const typename Codec::Storage* src, int divisor,
                size_t count) {
  using C = typename Codec::Compute;
  if constexpr (std::is_integral_v<C>) {
    auto d = static_cast<DivType<C>>(divisor);
    for (size_t i = 0; i < count; ++i) {
      dst[i] = static_cast<C>(static_cast<DivType<C>>(src[i]) / d);
    }
  } else {
    auto d = static_cast<C>(divisor);
    for (size_t i = 0; i < count; ++i) dst[i] = Codec::store(Codec::load(src[i]) / d);
  }
}

}  // namespace

// target_clones names x86 features, so other architectures get the one plain build.
#if defined(__x86_64__)
#define PRISM_HOST_KERNEL_CLONES [[gnu::target_clones("avx2", "default"), gnu::flatten]]
#else
#define PRISM_HOST_KERNEL_CLONES
#endif

PRISM_HOST_KERNEL_CLONES void reduce(DataType type, ReduceOp op, void* dst, const void* a,
                                     const void* b, size_t count) {
  if (reduceNarrow16Avx512(type, op, dst, a, b, count)) return;
  if (reduceNarrow16Avx2(type, op, dst, a, b, count)) return;
  visitType(type, [&]<typename Codec>(Codec) {
    using S = typename Codec::Storage;
    visitOp(op, [&](auto fn) {
      reduceLoop<Codec>(static_cast<S*>(dst), static_cast<const S*>(a), static_cast<const S*>(b),
                        count, fn);
    });
  });
}

PRISM_HOST_KERNEL_CLONES void scale(DataType type, void* dst, const void* src, const void* scalar,
                                    size_t count) {
  visitType(type, [&]<typename Codec>(Codec) {
    using S = typename Codec::Storage;
    S factor;
    std::memcpy(&factor, scalar, sizeof factor);  // the scalar may be unaligned
    scaleLoop<Codec>(static_cast<S*>(dst), static_cast<const S*>(src), Codec::load(factor), count);
  });
}

PRISM_HOST_KERNEL_CLONES void divide(DataType type, void* dst, const void* src, int divisor,
                                     size_t count) {
  if (divisor <= 0) badDivisor();
  visitType(type, [&]<typename Codec>(Codec) {
    using S = typename Codec::Storage;
    divideLoop<Codec>(static_cast<S*>(dst), static_cast<const S*>(src), divisor, count);
  });
}

}  // namespace prism::kernels
