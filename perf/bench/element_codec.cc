#include "perf/bench/element_codec.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace prism::bench {
namespace {

// A binary floating-point format narrower than float: sign, expBits, mantBits.
struct MiniFloat {
  int expBits;
  int mantBits;
  int bias;
  bool hasInfinity;  // false for e4m3, whose all-ones exponent still holds finite values
};

constexpr MiniFloat kHalf{5, 10, 15, true};
constexpr MiniFloat kBfloat16{8, 7, 127, true};
constexpr MiniFloat kE4m3{4, 3, 7, false};
constexpr MiniFloat kE5m2{5, 2, 15, true};

uint32_t encodeMini(const MiniFloat& f, double x) {
  const uint32_t signBit = 1u << (f.expBits + f.mantBits);
  const uint32_t expMax = (1u << f.expBits) - 1;
  const uint32_t mantMask = (1u << f.mantBits) - 1;
  if (std::isnan(x)) return expMax << f.mantBits | mantMask;
  uint32_t sign = std::signbit(x) ? signBit : 0;
  double a = std::fabs(x);
  if (a == 0) return sign;
  int exp2 = 0;
  std::frexp(a, &exp2);  // a = m * 2^exp2, m in [0.5, 1)
  int unbiased = exp2 - 1;
  const int minNormal = 1 - f.bias;
  // Magnitude bits as one integer (exponent field above mantissa field): this encoding is
  // monotonic, so a mantissa that rounds up to 2^mantBits carries into the exponent.
  uint64_t bits;
  if (unbiased < minNormal) {
    bits = static_cast<uint64_t>(std::nearbyint(std::ldexp(a, f.mantBits - minNormal)));
  } else {
    double frac = std::ldexp(a, -unbiased) - 1.0;
    auto mant = static_cast<uint64_t>(std::nearbyint(std::ldexp(frac, f.mantBits)));
    bits = (static_cast<uint64_t>(unbiased + f.bias) << f.mantBits) + mant;
  }
  // Out of range: infinity where the format has one, else the largest finite value.
  const uint64_t maxFinite = f.hasInfinity ? ((expMax - 1) << f.mantBits | mantMask)
                                           : (expMax << f.mantBits | (mantMask - 1));
  if (bits > maxFinite) bits = f.hasInfinity ? (expMax << f.mantBits) : maxFinite;
  return sign | static_cast<uint32_t>(bits);
}

double decodeMini(const MiniFloat& f, uint32_t bits) {
  const uint32_t expMax = (1u << f.expBits) - 1;
  const uint32_t mantMask = (1u << f.mantBits) - 1;
  bool negative = (bits >> (f.expBits + f.mantBits)) & 1;
  uint32_t exp = (bits >> f.mantBits) & expMax;
  uint32_t mant = bits & mantMask;
  double value;
  if (exp == expMax && f.hasInfinity) {
    value = mant == 0 ? INFINITY : NAN;
  } else if (exp == expMax && mant == mantMask) {
    value = NAN;  // e4m3's only NaN pattern
  } else if (exp == 0) {
    value = std::ldexp(static_cast<double>(mant), 1 - f.bias - f.mantBits);
  } else {
    value = std::ldexp(1.0 + std::ldexp(static_cast<double>(mant), -f.mantBits),
                       static_cast<int>(exp) - f.bias);
  }
  return negative ? -value : value;
}

template <typename T>
void storeAs(void* buffer, size_t index, T value) {
  std::memcpy(static_cast<char*>(buffer) + index * sizeof(T), &value, sizeof(T));
}

template <typename T>
T loadAs(const void* buffer, size_t index) {
  T value;
  std::memcpy(&value, static_cast<const char*>(buffer) + index * sizeof(T), sizeof(T));
  return value;
}

}  // namespace

void storeElement(ncclDataType_t type, void* buffer, size_t index, double value) {
  switch (type) {
    case ncclInt8:
      return storeAs(buffer, index, static_cast<int8_t>(value));
    case ncclUint8:
      return storeAs(buffer, index, static_cast<uint8_t>(value));
    case ncclInt32:
      return storeAs(buffer, index, static_cast<int32_t>(value));
    case ncclUint32:
      return storeAs(buffer, index, static_cast<uint32_t>(value));
    case ncclInt64:
      return storeAs(buffer, index, static_cast<int64_t>(value));
    case ncclUint64:
      return storeAs(buffer, index, static_cast<uint64_t>(value));
    case ncclFloat16:
      return storeAs(buffer, index, static_cast<uint16_t>(encodeMini(kHalf, value)));
    case ncclFloat32:
      return storeAs(buffer, index, static_cast<float>(value));
    case ncclFloat64:
      return storeAs(buffer, index, value);
    case ncclBfloat16:
      return storeAs(buffer, index, static_cast<uint16_t>(encodeMini(kBfloat16, value)));
    case ncclFloat8e4m3:
      return storeAs(buffer, index, static_cast<uint8_t>(encodeMini(kE4m3, value)));
    case ncclFloat8e5m2:
      return storeAs(buffer, index, static_cast<uint8_t>(encodeMini(kE5m2, value)));
    default:
      return;
  }
}

double loadElement(ncclDataType_t type, const void* buffer, size_t index) {
  switch (type) {
    case ncclInt8:
      return loadAs<int8_t>(buffer, index);
    case ncclUint8:
      return loadAs<uint8_t>(buffer, index);
    case ncclInt32:
      return loadAs<int32_t>(buffer, index);
    case ncclUint32:
      return loadAs<uint32_t>(buffer, index);
    case ncclInt64:
      return static_cast<double>(loadAs<int64_t>(buffer, index));
    case ncclUint64:
      return static_cast<double>(loadAs<uint64_t>(buffer, index));
    case ncclFloat16:
      return decodeMini(kHalf, loadAs<uint16_t>(buffer, index));
    case ncclFloat32:
      return loadAs<float>(buffer, index);
    case ncclFloat64:
      return loadAs<double>(buffer, index);
    case ncclBfloat16:
      return decodeMini(kBfloat16, loadAs<uint16_t>(buffer, index));
    case ncclFloat8e4m3:
      return decodeMini(kE4m3, loadAs<uint8_t>(buffer, index));
    case ncclFloat8e5m2:
      return decodeMini(kE5m2, loadAs<uint8_t>(buffer, index));
    default:
      return NAN;
  }
}

double exactIntegerLimit(ncclDataType_t type) {
  constexpr double kCap = 1 << 20;
  switch (type) {
    case ncclInt8:
      return 127;
    case ncclUint8:
      return 255;
    case ncclFloat16:
      return 2048;  // 2^(mantBits + 1)
    case ncclBfloat16:
      return 256;
    case ncclFloat8e4m3:
      return 16;
    case ncclFloat8e5m2:
      return 8;
    default:
      return kCap;
  }
}

double typeEpsilon(ncclDataType_t type) {
  switch (type) {
    case ncclFloat16:
      return std::ldexp(1.0, -kHalf.mantBits);
    case ncclFloat32:
      return std::ldexp(1.0, -23);
    case ncclFloat64:
      return std::ldexp(1.0, -52);
    case ncclBfloat16:
      return std::ldexp(1.0, -kBfloat16.mantBits);
    case ncclFloat8e4m3:
      return std::ldexp(1.0, -kE4m3.mantBits);
    case ncclFloat8e5m2:
      return std::ldexp(1.0, -kE5m2.mantBits);
    default:
      return 0;
  }
}

}  // namespace prism::bench
