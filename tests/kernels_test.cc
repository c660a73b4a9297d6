// Host element kernels against references written from the format definitions: a table
// decoder built with ldexp, and a brute-force nearest-value search over that table for
// rounding. The kernels' bit tricks share no code with either.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/host/copy.h"
#include "kernels/host/float_convert.h"
#include "kernels/host/reduce.h"

namespace prism::kernels {
namespace {

/// A sign-magnitude format: 1 sign bit, expBits, mantBits, bias 2^(expBits-1)-1.
/// ieeeSpecials: the all-ones exponent is inf/NaN; otherwise (e4m3) only S.1111.111 is NaN.
/// saturate: magnitudes beyond the largest finite value (infinity included) become it.
struct Format {
  const char* name;
  int expBits;
  int mantBits;
  bool ieeeSpecials;
  bool saturate;
  std::function<float(uint32_t)> decode;
  std::function<uint32_t(float)> encode;
};

const std::vector<Format>& formats() {
  static const std::vector<Format> all = {
      {"half", 5, 10, true, false, [](uint32_t v) { return halfToFloat(uint16_t(v)); },
       [](float f) { return uint32_t{floatToHalf(f)}; }},
      {"bf16", 8, 7, true, false, [](uint32_t v) { return bf16ToFloat(uint16_t(v)); },
       [](float f) { return uint32_t{floatToBf16(f)}; }},
      {"e4m3", 4, 3, false, true, [](uint32_t v) { return e4m3ToFloat(uint8_t(v)); },
       [](float f) { return uint32_t{floatToE4m3(f)}; }},
      {"e5m2", 5, 2, true, true, [](uint32_t v) { return e5m2ToFloat(uint8_t(v)); },
       [](float f) { return uint32_t{floatToE5m2(f)}; }},
  };
  return all;
}

/// Independent reference: decodes with ldexp and rounds by searching a sorted table.
class RefCodec {
 public:
  explicit RefCodec(const Format& f) : f_(f) {
    for (uint32_t bits = 0; bits < signBit(); ++bits) {
      double v = decode(bits);
      if (std::isnan(v)) continue;
      // Infinity sits in the table at the value one ulp past the largest finite one, so
      // that the nearest-even search sends values from the halfway point on to it.
      table_.push_back({std::isinf(v) ? std::ldexp(1.0, maxExp() + 1) : v, bits});
    }
    std::sort(table_.begin(), table_.end(),
              [](const Entry& a, const Entry& b) { return a.value < b.value; });
  }

  uint32_t count() const { return signBit() * 2; }
  uint32_t signBit() const { return 1u << (f_.expBits + f_.mantBits); }
  int bias() const { return (1 << (f_.expBits - 1)) - 1; }
  // Exponent of the top finite binade.
  int maxExp() const { return (1 << f_.expBits) - (f_.ieeeSpecials ? 2 : 1) - bias(); }

  double decode(uint32_t bits) const {
    bool negative = bits & signBit();
    uint32_t e = (bits >> f_.mantBits) & ((1u << f_.expBits) - 1);
    uint32_t m = bits & ((1u << f_.mantBits) - 1);
    uint32_t topE = (1u << f_.expBits) - 1, topM = (1u << f_.mantBits) - 1;
    double mag;
    if (f_.ieeeSpecials && e == topE) {
      mag = m == 0 ? INFINITY : NAN;
    } else if (!f_.ieeeSpecials && e == topE && m == topM) {
      mag = NAN;
    } else if (e == 0) {
      mag = std::ldexp(double(m), 1 - bias() - f_.mantBits);
    } else {
      mag = std::ldexp(double(m + (1u << f_.mantBits)), int(e) - bias() - f_.mantBits);
    }
    return negative ? -mag : mag;
  }

  bool isNan(uint32_t bits) const { return std::isnan(decode(bits)); }

  /// Nearest representable value to x, ties to the even pattern. kNan for NaN input.
  uint32_t encode(double x) const {
    if (std::isnan(x)) return kNan;
    uint32_t sign = std::signbit(x) ? signBit() : 0;
    double a = std::fabs(x);
    double maxFinite = table_[table_.size() - (f_.ieeeSpecials ? 2 : 1)].value;
    if (f_.saturate && a > maxFinite) a = maxFinite;
    if (std::isinf(a)) return sign | table_.back().bits;
    auto hi = std::lower_bound(table_.begin(), table_.end(), a,
                               [](const Entry& e, double v) { return e.value < v; });
    if (hi == table_.end()) return sign | table_.back().bits;  // past inf's stand-in
    if (hi->value == a || hi == table_.begin()) return sign | hi->bits;
    auto lo = hi - 1;
    double below = a - lo->value, above = hi->value - a;
    if (below < above) return sign | lo->bits;
    if (above < below) return sign | hi->bits;
    return sign | ((lo->bits & 1) == 0 ? lo->bits : hi->bits);
  }

  static constexpr uint32_t kNan = 0xffffffffu;

  /// Positive finite values in increasing order.
  std::vector<double> finiteValues() const {
    std::vector<double> out;
    for (const Entry& e : table_) {
      if (!std::isinf(decode(e.bits))) out.push_back(e.value);
    }
    return out;
  }

 private:
  struct Entry {
    double value;
    uint32_t bits;
  };
  Format f_;
  std::vector<Entry> table_;
};

/// Checks the kernel's encoding of `input` against the reference.
void expectEncodes(const Format& f, const RefCodec& ref, float input) {
  uint32_t want = ref.encode(input);
  uint32_t got = f.encode(input);
  if (want == RefCodec::kNan) {
    EXPECT_TRUE(ref.isNan(got)) << f.name << " input " << input << " got 0x" << std::hex << got;
  } else {
    EXPECT_EQ(got, want) << f.name << " input " << input << " (0x" << std::hex
                         << std::bit_cast<uint32_t>(input) << ")";
  }
}

TEST(FloatConvert, DecodeMatchesReferenceForEveryPattern) {
  for (const Format& f : formats()) {
    RefCodec ref(f);
    for (uint32_t bits = 0; bits < ref.count(); ++bits) {
      double want = ref.decode(bits);
      float got = f.decode(bits);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << f.name << " 0x" << std::hex << bits;
      } else {
        EXPECT_EQ(double(got), want) << f.name << " 0x" << std::hex << bits;
        EXPECT_EQ(std::signbit(got), std::signbit(want)) << f.name << " 0x" << std::hex << bits;
      }
    }
  }
}

TEST(FloatConvert, EveryPatternRoundTrips) {
  for (const Format& f : formats()) {
    RefCodec ref(f);
    for (uint32_t bits = 0; bits < ref.count(); ++bits) {
      uint32_t back = f.encode(f.decode(bits));
      if (ref.isNan(bits)) {
        EXPECT_TRUE(ref.isNan(back)) << f.name << " 0x" << std::hex << bits;
      } else if (std::isinf(ref.decode(bits)) && f.saturate) {
        // e5m2's infinities saturate to the largest finite value, keeping the sign.
        EXPECT_EQ(back, (bits & ref.signBit()) | 0x7b) << f.name;
      } else {
        EXPECT_EQ(back, bits) << f.name << " 0x" << std::hex << bits;
      }
    }
  }
}

// Every midpoint between neighbours (exact ties, which must go to the even pattern) and
// the floats on either side of it, in both signs.
TEST(FloatConvert, RoundsTiesToEvenAndNeighboursToNearest) {
  for (const Format& f : formats()) {
    RefCodec ref(f);
    std::vector<double> values = ref.finiteValues();
    // One ulp past the largest finite value, for the midpoint where rounding overflows.
    values.push_back(std::ldexp(1.0, ref.maxExp() + 1));
    for (size_t i = 0; i + 1 < values.size(); ++i) {
      double mid = (values[i] + values[i + 1]) / 2;
      float m = float(mid);
      ASSERT_EQ(double(m), mid) << f.name << ": midpoint not exact in float";
      for (float x : {m, std::nextafter(m, 0.0f), std::nextafter(m, INFINITY)}) {
        expectEncodes(f, ref, x);
        expectEncodes(f, ref, -x);
      }
    }
  }
}

TEST(FloatConvert, RandomFloatsMatchReference) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_real_distribution<float> small(-600.0f, 600.0f);
  for (const Format& f : formats()) {
    RefCodec ref(f);
    for (int i = 0; i < 200000; ++i) {
      expectEncodes(f, ref, std::bit_cast<float>(bits(rng)));
      expectEncodes(f, ref, small(rng));
      // Magnitudes around the format's subnormal range.
      expectEncodes(f, ref, small(rng) * std::ldexp(1.0f, -ref.bias() - f.mantBits));
    }
  }
}

TEST(FloatConvert, SpecialValuesAndSaturation) {
  const float inf = INFINITY, nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.99f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);  // tie: 65504 is odd, so it rounds to inf
  EXPECT_EQ(floatToHalf(-inf), 0xfc00);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and 2^-24
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -25)), 0x0002);  // tie between 1 and 2 ulps
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie to even
  EXPECT_EQ(floatToBf16(3.4028235e38f), 0x7f80);                // rounds past max
  EXPECT_EQ(floatToBf16(inf), 0x7f80);
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(nan))));
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(-nan))));

  EXPECT_EQ(e4m3ToFloat(0x7e), 448.0f);
  EXPECT_EQ(floatToE4m3(448.0f), 0x7e);
  EXPECT_EQ(floatToE4m3(464.0f), 0x7e);
  EXPECT_EQ(floatToE4m3(1e30f), 0x7e);
  EXPECT_EQ(floatToE4m3(inf), 0x7e);
  EXPECT_EQ(floatToE4m3(-inf), 0xfe);
  EXPECT_EQ(floatToE4m3(-1e9f), 0xfe);
  EXPECT_EQ(floatToE4m3(std::ldexp(1.0f, -10)), 0x00);  // half the smallest subnormal
  EXPECT_EQ(floatToE4m3(std::ldexp(1.0f, -9)), 0x01);
  EXPECT_EQ(floatToE4m3(nan) & 0x7f, 0x7f);
  EXPECT_TRUE(std::isnan(e4m3ToFloat(0xff)));

  EXPECT_EQ(e5m2ToFloat(0x7b), 57344.0f);
  EXPECT_EQ(floatToE5m2(57344.0f), 0x7b);
  EXPECT_EQ(floatToE5m2(61440.0f), 0x7b);
  EXPECT_EQ(floatToE5m2(1e30f), 0x7b);
  EXPECT_EQ(floatToE5m2(inf), 0x7b);
  EXPECT_EQ(floatToE5m2(-inf), 0xfb);
  EXPECT_EQ(floatToE5m2(std::ldexp(1.0f, -16)), 0x01);
  EXPECT_TRUE(std::isinf(e5m2ToFloat(0x7c)));
  EXPECT_TRUE(std::isnan(e5m2ToFloat(floatToE5m2(nan))));
}

// ---- reduce, scale and divide against per-element references ----

const Format* narrowFormat(DataType t) {
  switch (t) {
    case DataType::Float16:
      return &formats()[0];
    case DataType::Bfloat16:
      return &formats()[1];
    case DataType::Float8e4m3:
      return &formats()[2];
    case DataType::Float8e5m2:
      return &formats()[3];
    default:
      return nullptr;
  }
}

const RefCodec& refCodec(DataType t) {
  static const std::vector<RefCodec> codecs(formats().begin(), formats().end());
  return codecs[narrowFormat(t) - formats().data()];
}

bool isInteger(DataType t) { return t <= DataType::Uint64; }
bool isSigned(DataType t) {
  return t == DataType::Int8 || t == DataType::Int32 || t == DataType::Int64;
}

/// An expected element: exact bits, or "any NaN".
struct Expected {
  uint64_t bits;
  bool nan;
};

__int128 intValue(DataType t, uint64_t bits) {
  int shift = 64 - 8 * int(dataTypeSize(t));
  if (isSigned(t)) return static_cast<int64_t>(bits << shift) >> shift;  // sign-extend
  return bits;
}

Expected wrapInt(DataType t, __int128 value) {
  uint64_t low = uint64_t(static_cast<unsigned __int128>(value));
  size_t size = dataTypeSize(t);
  if (size < 8) low &= (uint64_t{1} << (8 * size)) - 1;
  return {low, false};
}

double floatValue(DataType t, uint64_t bits) {
  if (t == DataType::Float32) return std::bit_cast<float>(uint32_t(bits));
  if (t == DataType::Float64) return std::bit_cast<double>(bits);
  return refCodec(t).decode(uint32_t(bits));
}

bool isNanBits(DataType t, uint64_t bits) {
  return !isInteger(t) && std::isnan(floatValue(t, bits));
}

/// Rounds an exact-or-double result to `t`. Rounding a double to float (or to a narrow
/// format) after one double operation on two such inputs is the correctly rounded result,
/// since double has more than 2p+2 bits for every p here.
Expected roundTo(DataType t, double v) {
  if (std::isnan(v)) return {0, true};
  if (t == DataType::Float32) return {std::bit_cast<uint32_t>(float(v)), false};
  if (t == DataType::Float64) return {std::bit_cast<uint64_t>(v), false};
  return {refCodec(t).encode(v), false};
}

Expected refReduce(DataType t, ReduceOp op, uint64_t a, uint64_t b) {
  if (isInteger(t)) {
    __int128 x = intValue(t, a), y = intValue(t, b);
    switch (op) {
      case ReduceOp::Sum:
        return wrapInt(t, x + y);
      case ReduceOp::Prod:
        return wrapInt(t, x * y);
      case ReduceOp::Max:
        return wrapInt(t, std::max(x, y));
      case ReduceOp::Min:
        return wrapInt(t, std::min(x, y));
    }
  }
  double x = floatValue(t, a), y = floatValue(t, b);
  switch (op) {
    case ReduceOp::Sum:
      return roundTo(t, x + y);
    case ReduceOp::Prod:
      return roundTo(t, x * y);
    case ReduceOp::Max:  // NaN propagates; between equal values (+0, -0) b wins
      return std::isnan(x) || std::isnan(y) ? Expected{0, true} : roundTo(t, x > y ? x : y);
    case ReduceOp::Min:
      return std::isnan(x) || std::isnan(y) ? Expected{0, true} : roundTo(t, x < y ? x : y);
  }
  return {0, false};
}

Expected refDivide(DataType t, uint64_t a, int divisor) {
  if (isInteger(t)) return wrapInt(t, intValue(t, a) / divisor);  // truncates like C
  return roundTo(t, floatValue(t, a) / divisor);
}

/// Random elements of `t`: arbitrary bit patterns (NaN, inf and subnormals included), and
/// for float32/float64 also ordinary magnitudes, whose sums round more interestingly.
std::vector<uint8_t> randomElements(DataType t, size_t count, std::mt19937_64& rng) {
  size_t size = dataTypeSize(t);
  std::vector<uint8_t> out(count * size);
  std::uniform_real_distribution<double> moderate(-1000.0, 1000.0);
  for (size_t i = 0; i < count; ++i) {
    uint64_t bits = rng();
    if (rng() % 2 == 0 && t == DataType::Float32)
      bits = std::bit_cast<uint32_t>(float(moderate(rng)));
    if (rng() % 2 == 0 && t == DataType::Float64) bits = std::bit_cast<uint64_t>(moderate(rng));
    std::memcpy(out.data() + i * size, &bits, size);
  }
  return out;
}

uint64_t element(const std::vector<uint8_t>& buf, DataType t, size_t i) {
  uint64_t v = 0;
  std::memcpy(&v, buf.data() + i * dataTypeSize(t), dataTypeSize(t));
  return v;
}

/// Compares `got` with want(i) for every element; reports the first mismatch only.
template <typename Want>
void expectElements(DataType t, const std::vector<uint8_t>& got, size_t count, Want want,
                    const std::string& what) {
  for (size_t i = 0; i < count; ++i) {
    Expected e = want(i);
    uint64_t g = element(got, t, i);
    bool ok = e.nan ? isNanBits(t, g) : g == e.bits;
    if (!ok) {
      ADD_FAILURE() << what << " " << dataTypeName(t) << " element " << i << " of " << count
                    << ": got 0x" << std::hex << g << " want 0x" << e.bits
                    << (e.nan ? " (NaN)" : "");
      return;
    }
  }
}

const size_t kCounts[] = {0, 1, 7, 4099};
const ReduceOp kOps[] = {ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min};
const char* kOpNames[] = {"sum", "prod", "max", "min"};

TEST(Reduce, MatchesReferenceForEveryTypeOpCountAndAliasing) {
  std::mt19937_64 rng(42);
  for (int ti = 0; ti < kNumDataTypes; ++ti) {
    DataType t = DataType(ti);
    for (size_t count : kCounts) {
      std::vector<uint8_t> a = randomElements(t, count, rng);
      std::vector<uint8_t> b = randomElements(t, count, rng);
      for (int oi = 0; oi < 4; ++oi) {
        auto want = [&](size_t i) {
          return refReduce(t, kOps[oi], element(a, t, i), element(b, t, i));
        };
        std::string what = std::string(kOpNames[oi]) + " count " + std::to_string(count);
        std::vector<uint8_t> dst(a.size(), 0xa5);
        reduce(t, kOps[oi], dst.data(), a.data(), b.data(), count);
        expectElements(t, dst, count, want, what + " distinct");
        dst = a;
        reduce(t, kOps[oi], dst.data(), dst.data(), b.data(), count);
        expectElements(t, dst, count, want, what + " dst==a");
        dst = b;
        reduce(t, kOps[oi], dst.data(), a.data(), dst.data(), count);
        expectElements(t, dst, count, want, what + " dst==b");
      }
    }
  }
}

TEST(Reduce, WrapsIntegersAndSaturatesFp8) {
  int8_t i8a = 127, i8b = 1, i8 = 0;
  reduce(DataType::Int8, ReduceOp::Sum, &i8, &i8a, &i8b, 1);
  EXPECT_EQ(i8, -128);
  int64_t i64a = std::numeric_limits<int64_t>::min(), i64b = -1, i64 = 0;
  reduce(DataType::Int64, ReduceOp::Prod, &i64, &i64a, &i64b, 1);
  EXPECT_EQ(i64, std::numeric_limits<int64_t>::min());
  uint8_t u8a = 200, u8b = 2, u8 = 0;
  reduce(DataType::Uint8, ReduceOp::Prod, &u8, &u8a, &u8b, 1);
  EXPECT_EQ(u8, 144);
  uint16_t h = floatToHalf(65504.0f), hOut = 0;
  reduce(DataType::Float16, ReduceOp::Sum, &hOut, &h, &h, 1);
  EXPECT_EQ(hOut, 0x7c00);
  uint8_t e4 = 0x7e, e4Out = 0;
  reduce(DataType::Float8e4m3, ReduceOp::Sum, &e4Out, &e4, &e4, 1);
  EXPECT_EQ(e4Out, 0x7e);
  uint8_t e5 = 0x7b, e5Out = 0;
  reduce(DataType::Float8e5m2, ReduceOp::Prod, &e5Out, &e5, &e5, 1);
  EXPECT_EQ(e5Out, 0x7b);
  float nan = std::numeric_limits<float>::quiet_NaN(), one = 1.0f, f = 0;
  reduce(DataType::Float32, ReduceOp::Max, &f, &one, &nan, 1);
  EXPECT_TRUE(std::isnan(f));
  reduce(DataType::Float32, ReduceOp::Min, &f, &nan, &one, 1);
  EXPECT_TRUE(std::isnan(f));
}

TEST(Scale, MatchesReferenceForEveryType) {
  std::mt19937_64 rng(7);
  for (int ti = 0; ti < kNumDataTypes; ++ti) {
    DataType t = DataType(ti);
    for (size_t count : kCounts) {
      std::vector<uint8_t> src = randomElements(t, count, rng);
      std::vector<uint8_t> scalar = randomElements(t, 1, rng);
      auto want = [&](size_t i) {
        return refReduce(t, ReduceOp::Prod, element(src, t, i), element(scalar, t, 0));
      };
      std::vector<uint8_t> dst(src.size());
      scale(t, dst.data(), src.data(), scalar.data(), count);
      expectElements(t, dst, count, want, "scale " + std::to_string(count));
      dst = src;
      scale(t, dst.data(), dst.data(), scalar.data(), count);
      expectElements(t, dst, count, want, "scale in place " + std::to_string(count));
    }
  }
}

// A NaN factor: the element's NaN wins where the element is one, else the factor's, both
// quieted, whatever operand order the compiler chose (the CUDA kernels' rule).
TEST(Scale, NanFactorKeepsTheElementsNanFirst) {
  const float factor = std::bit_cast<float>(0xffa00001u);  // negative signalling NaN
  const std::vector<float> src{1.5f, std::bit_cast<float>(0x7f800123u),
                               std::numeric_limits<float>::infinity(), 0.0f,
                               std::bit_cast<float>(0x7fc00042u)};
  std::vector<float> dst(src.size());
  scale(DataType::Float32, dst.data(), src.data(), &factor, src.size());
  const std::vector<uint32_t> want{0xffe00001u, 0x7fc00123u, 0xffe00001u, 0xffe00001u, 0x7fc00042u};
  for (size_t i = 0; i < src.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(dst[i]), want[i]) << "element " << i;
  const uint16_t halfFactor = 0xffff;  // negative NaN
  const std::vector<uint16_t> halfSrc{0x3c00, 0x7c01, 0x7c00, 0xfe00};
  std::vector<uint16_t> halfDst(halfSrc.size());
  scale(DataType::Float16, halfDst.data(), halfSrc.data(), &halfFactor, halfSrc.size());
  EXPECT_EQ(halfDst, (std::vector<uint16_t>{0xfe00, 0x7e00, 0xfe00, 0xfe00}));
}

TEST(Divide, MatchesReferenceForEveryType) {
  std::mt19937_64 rng(9);
  for (int ti = 0; ti < kNumDataTypes; ++ti) {
    DataType t = DataType(ti);
    for (size_t count : kCounts) {
      std::vector<uint8_t> src = randomElements(t, count, rng);
      for (int divisor : {1, 2, 3, 7, 8, 1000}) {
        auto want = [&](size_t i) { return refDivide(t, element(src, t, i), divisor); };
        std::string what = "divide by " + std::to_string(divisor);
        std::vector<uint8_t> dst(src.size());
        divide(t, dst.data(), src.data(), divisor, count);
        expectElements(t, dst, count, want, what);
        dst = src;
        divide(t, dst.data(), dst.data(), divisor, count);
        expectElements(t, dst, count, want, what + " in place");
      }
    }
  }
}

TEST(Divide, TruncatesTowardZeroAndRejectsBadDivisors) {
  int32_t v[] = {-7, 7, std::numeric_limits<int32_t>::min()}, out[3];
  divide(DataType::Int32, out, v, 2, 3);
  EXPECT_EQ(out[0], -3);
  EXPECT_EQ(out[1], 3);
  EXPECT_EQ(out[2], std::numeric_limits<int32_t>::min() / 2);
  EXPECT_THROW(divide(DataType::Int32, out, v, 0, 3), Error);
  EXPECT_THROW(divide(DataType::Int32, out, v, -1, 3), Error);
  EXPECT_THROW(reduce(DataType(kNumDataTypes), ReduceOp::Sum, out, v, v, 1), Error);
  EXPECT_THROW(reduce(DataType::Int32, ReduceOp(9), out, v, v, 1), Error);
}

// Streaming copies write exactly [dst, dst + bytes): every length around the vector and
// fence thresholds, every alignment of either pointer, guard bytes on both sides.
TEST(CopyStreaming, CopiesExactlyTheRangeAtEveryAlignment) {
  std::mt19937 rng(7);
  std::vector<unsigned char> src((1 << 20) + 64);
  for (auto& b : src) b = static_cast<unsigned char>(rng());
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{63}, size_t{255},
                       size_t{256}, size_t{257}, size_t{4099}, size_t{1 << 20}}) {
    for (size_t dstOffset = 0; dstOffset < 16; dstOffset += 3) {
      for (size_t srcOffset : {size_t{0}, size_t{1}, size_t{8}}) {
        std::vector<unsigned char> dst(bytes + 64, 0xA5);
        copyStreaming(dst.data() + dstOffset, src.data() + srcOffset, bytes);
        for (size_t i = 0; i < dst.size(); ++i) {
          bool inside = i >= dstOffset && i < dstOffset + bytes;
          unsigned char want = inside ? src[srcOffset + i - dstOffset] : 0xA5;
          ASSERT_EQ(dst[i], want) << "bytes " << bytes << " dst+" << dstOffset << " src+"
                                  << srcOffset << " at " << i;
        }
      }
    }
  }
}

// copyToBoth writes exactly the two ranges, for every combination of streaming flags and
// alignments (a streaming destination off 16 bytes takes the two-pass fallback).
TEST(CopyToBoth, CopiesExactlyBothRangesForEveryFlagAndAlignment) {
  std::mt19937 rng(11);
  std::vector<unsigned char> src((1 << 16) + 64);
  for (auto& b : src) b = static_cast<unsigned char>(rng());
  auto expectRange = [&](const std::vector<unsigned char>& dst, size_t offset, size_t srcOffset,
                         size_t bytes, const std::string& what) {
    for (size_t i = 0; i < dst.size(); ++i) {
      bool inside = i >= offset && i < offset + bytes;
      unsigned char want = inside ? src[srcOffset + i - offset] : 0xA5;
      ASSERT_EQ(dst[i], want) << what << " at " << i;
    }
  };
  for (size_t bytes :
       {size_t{0}, size_t{17}, size_t{255}, size_t{256}, size_t{4099}, size_t{1 << 16}}) {
    for (int flags = 0; flags < 4; ++flags) {
      for (size_t aOffset : {size_t{0}, size_t{5}}) {
        for (size_t bOffset : {size_t{0}, size_t{8}}) {
          const size_t srcOffset = 3;
          std::vector<unsigned char> a(bytes + 64, 0xA5), b(bytes + 64, 0xA5);
          // Offsets count from a 16-byte boundary, whatever the allocator returned.
          auto* pa = a.data() + (16 - reinterpret_cast<uintptr_t>(a.data()) % 16) % 16;
          auto* pb = b.data() + (16 - reinterpret_cast<uintptr_t>(b.data()) % 16) % 16;
          const size_t baseA = static_cast<size_t>(pa - a.data());
          const size_t baseB = static_cast<size_t>(pb - b.data());
          copyToBoth(pa + aOffset, flags & 1, pb + bOffset, flags & 2, src.data() + srcOffset,
                     bytes);
          const std::string what = "bytes " + std::to_string(bytes) + " flags " +
                                   std::to_string(flags) + " a+" + std::to_string(aOffset) + " b+" +
                                   std::to_string(bOffset);
          expectRange(a, baseA + aOffset, srcOffset, bytes, what + " (a)");
          expectRange(b, baseB + bOffset, srcOffset, bytes, what + " (b)");
        }
      }
    }
  }
}

TEST(DataType, NamesMatchNcclTests) {
  const char* names[] = {"int8", "uint8", "int32",  "uint32",   "int64",  "uint64",
                         "half", "float", "double", "bfloat16", "f8e4m3", "f8e5m2"};
  for (int t = 0; t < kNumDataTypes; ++t) EXPECT_STREQ(dataTypeName(DataType(t)), names[t]);
}

}  // namespace
}  // namespace prism::kernels

namespace prism::kernels {
namespace {

/// The portable element rule for 16-bit floats, spelled with the exported conversions:
/// load to float, combine, round once. NaN bits included, so the AVX2 loops must match it
/// exactly (the CUDA kernels are held to the same bits). The one freedom: when both inputs
/// of Sum or Prod are NaN, x86 returns the first operand's, and which operand is first is
/// the compiler's choice, so both answers are accepted (as the CUDA tests do).
uint16_t narrowReference(DataType t, ReduceOp op, uint16_t a, uint16_t b) {
  const bool half = t == DataType::Float16;
  const float x = half ? halfToFloat(a) : bf16ToFloat(a);
  const float y = half ? halfToFloat(b) : bf16ToFloat(b);
  float r = 0;
  switch (op) {
    case ReduceOp::Sum:
      r = x + y;
      break;
    case ReduceOp::Prod:
      r = x * y;
      break;
    case ReduceOp::Max:
      r = (x > y || x != x) ? x : y;
      break;
    case ReduceOp::Min:
      r = (x < y || x != x) ? x : y;
      break;
  }
  return half ? floatToHalf(r) : floatToBf16(r);
}

TEST(Reduce, SixteenBitFloatsMatchTheScalarRuleBitForBit) {
  std::mt19937_64 rng(7);
  for (DataType t : {DataType::Float16, DataType::Bfloat16}) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{4099}}) {
      std::vector<uint16_t> a(count), b(count);
      for (size_t i = 0; i < count; ++i) {
        a[i] = static_cast<uint16_t>(rng());
        // Every third pair shares its exponent so that sums round, not just saturate.
        b[i] = i % 3 == 0 ? static_cast<uint16_t>((a[i] & 0xff80) | (rng() & 0x7f))
                          : static_cast<uint16_t>(rng());
      }
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min}) {
        std::vector<uint16_t> out(count, 0xa5a5);
        reduce(t, op, out.data(), a.data(), b.data(), count);
        std::vector<uint16_t> inPlace = a;
        reduce(t, op, inPlace.data(), inPlace.data(), b.data(), count);
        const bool commutes = op == ReduceOp::Sum || op == ReduceOp::Prod;
        for (size_t i = 0; i < count; ++i) {
          const uint16_t want = narrowReference(t, op, a[i], b[i]);
          const uint16_t swapped = commutes ? narrowReference(t, op, b[i], a[i]) : want;
          EXPECT_TRUE(out[i] == want || out[i] == swapped)
              << dataTypeName(t) << " op " << static_cast<int>(op) << " element " << i << " of "
              << count << std::hex << ": a 0x" << a[i] << " b 0x" << b[i] << " got 0x" << out[i]
              << " want 0x" << want;
          ASSERT_EQ(inPlace[i], out[i]) << "in place, element " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace prism::kernels
