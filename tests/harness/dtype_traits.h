// The 12 NCCL element types as the tests see them: size, kind, name, and a compile-time
// traits type per element so that reference loops are specialized instead of switching
// per element.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nccl.h"
#include "tests/harness/float_format.h"

namespace prism::test {

enum class ElementKind { Signed, Unsigned, Float };

struct DtypeInfo {
  ncclDataType_t type;
  const char* name;
  size_t size;
  ElementKind kind;
  FloatFormat format;  // floats only
};

inline constexpr std::array<ncclDataType_t, 12> kAllDtypes = {
    ncclInt8,    ncclUint8,   ncclInt32,   ncclUint32,   ncclInt64,      ncclUint64,
    ncclFloat16, ncclFloat32, ncclFloat64, ncclBfloat16, ncclFloat8e4m3, ncclFloat8e5m2};

const DtypeInfo& dtypeInfo(ncclDataType_t type);
inline const char* dtypeName(ncclDataType_t type) { return dtypeInfo(type).name; }
inline size_t dtypeSize(ncclDataType_t type) { return dtypeInfo(type).size; }

/// Integer element: values are carried as 64-bit two's complement (sign- or zero-extended).
template <class Storage>
struct IntTraits {
  using S = Storage;
  static constexpr ElementKind kind =
      static_cast<Storage>(-1) < 0 ? ElementKind::Signed : ElementKind::Unsigned;
  static constexpr int kBits = 8 * sizeof(Storage);
};

/// Floating element stored as its bit pattern (narrow formats) or natively (float, double).
template <class Storage, const FloatFormat& Format>
struct FloatTraits {
  using S = Storage;
  static constexpr ElementKind kind = ElementKind::Float;
  static constexpr int kBits = 8 * sizeof(Storage);
  static const FloatFormat& format() { return Format; }
  static uint64_t bitsOf(S v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(S));
    return bits;
  }
  static S fromBits(uint64_t bits) {
    S v;
    std::memcpy(&v, &bits, sizeof(S));
    return v;
  }
  static double toDouble(S v) {
    if constexpr (sizeof(S) >= 4) {
      return static_cast<double>(v);
    } else {
      return decodeFloat(v, Format);
    }
  }
  static S fromDouble(double d) {
    if constexpr (sizeof(S) >= 4) {
      return static_cast<S>(d);
    } else {
      return static_cast<S>(encodeFloat(d, Format));
    }
  }
};

using Float16Traits = FloatTraits<uint16_t, kHalfFormat>;
using Bfloat16Traits = FloatTraits<uint16_t, kBfloat16Format>;
using E4m3Traits = FloatTraits<uint8_t, kE4m3Format>;
using E5m2Traits = FloatTraits<uint8_t, kE5m2Format>;
using Float32Traits = FloatTraits<float, kFloat32Format>;
using Float64Traits = FloatTraits<double, kFloat64Format>;

/// Calls f(Traits{}) with the traits of `type`; `type` must be one of the 12 types.
template <class F>
decltype(auto) visitDtype(ncclDataType_t type, F&& f) {
  switch (type) {
    case ncclInt8:
      return f(IntTraits<int8_t>{});
    case ncclUint8:
      return f(IntTraits<uint8_t>{});
    case ncclInt32:
      return f(IntTraits<int32_t>{});
    case ncclUint32:
      return f(IntTraits<uint32_t>{});
    case ncclInt64:
      return f(IntTraits<int64_t>{});
    case ncclUint64:
      return f(IntTraits<uint64_t>{});
    case ncclFloat16:
      return f(Float16Traits{});
    case ncclFloat32:
      return f(Float32Traits{});
    case ncclFloat64:
      return f(Float64Traits{});
    case ncclBfloat16:
      return f(Bfloat16Traits{});
    case ncclFloat8e4m3:
      return f(E4m3Traits{});
    default:
      return f(E5m2Traits{});
  }
}

}  // namespace prism::test
