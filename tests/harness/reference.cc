#include "tests/harness/reference.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <type_traits>
#include <vector>

#include "tests/harness/dtype_traits.h"

namespace prism::test {
namespace {

constexpr int kListedMismatches = 4;

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// How the values of one input are drawn (see reference.h).
enum class Pattern { Bits, SmallSum, Prod, AnyFinite, Bounded, Full };

Pattern patternFor(const InputSpec& spec, ElementKind kind) {
  if (!spec.op) return Pattern::Bits;
  switch (*spec.op) {
    case RefOp::Max:
    case RefOp::Min:
      return kind == ElementKind::Float ? Pattern::AnyFinite : Pattern::Full;
    case RefOp::Prod:
      return Pattern::Prod;
    case RefOp::Avg:
      return kind == ElementKind::Float ? Pattern::SmallSum : Pattern::Bounded;
    case RefOp::Sum:
    case RefOp::PreMulSum:
      if (kind == ElementKind::Float) return Pattern::SmallSum;
      return kind == ElementKind::Signed ? Pattern::Bounded : Pattern::Full;
  }
  return Pattern::Bits;
}

// The input of one rank, element by element. Integers are carried as 64-bit two's
// complement, floats as exact doubles.
template <class T>
class Source {
 public:
  using S = typename T::S;
  static constexpr bool kFloat = T::kind == ElementKind::Float;

  Source(const InputSpec& spec, int rank) : rank_(rank) {
    pattern_ = patternFor(spec, T::kind);
    // Operators drawing from the same pattern share their inputs, so a test can generate
    // them once for all of those operators.
    const auto pattern = static_cast<uint64_t>(pattern_);
    key_ = mix64(mix64(spec.seed) ^ (mix64(0x5eed0000ULL + rank) * 3) ^
                 ((static_cast<uint64_t>(spec.dtype) << 8 | pattern) * 0x2545f4914f6cdd1dULL));
    smallCount_ = (spec.dtype == ncclFloat8e5m2) ? 3 : 5;
    if constexpr (kFloat) {
      for (int v = -2; v <= 2; ++v) encoded_[v + 2] = T::fromDouble(v);
    }
  }

  S stored(size_t i) const {
    if constexpr (kFloat) {
      switch (pattern_) {
        case Pattern::SmallSum:
        case Pattern::Prod:
          return encoded_[static_cast<int>(small(i)) + 2];
        default:
          return T::fromBits(bits(i));
      }
    } else {
      return static_cast<S>(integer(i));
    }
  }

  double real(size_t i) const {
    if (pattern_ == Pattern::SmallSum || pattern_ == Pattern::Prod) return small(i);
    return T::toDouble(T::fromBits(bits(i)));
  }

  uint64_t integer(size_t i) const {
    const uint64_t h = hash(i);
    constexpr int kBits = T::kBits;
    switch (pattern_) {
      case Pattern::Prod:
        return static_cast<uint64_t>(static_cast<int64_t>(small(i)));
      case Pattern::Bounded:
        if (T::kind == ElementKind::Signed) {
          const uint64_t bound = uint64_t{1} << (kBits - 6);
          return static_cast<uint64_t>(static_cast<int64_t>(h % (2 * bound + 1)) -
                                       static_cast<int64_t>(bound));
        }
        return h % (uint64_t{1} << (kBits - 5));
      default:
        return extend(h);
    }
  }

 private:
  uint64_t hash(size_t i) const { return mix64(key_ ^ (i * 0xd6e8feb86659fd93ULL)); }

  // Sign- or zero-extends the low kBits bits of h.
  static uint64_t extend(uint64_t h) {
    if constexpr (T::kBits == 64) {
      return h;
    } else {
      const uint64_t low = h & ((uint64_t{1} << T::kBits) - 1);
      const uint64_t top = uint64_t{1} << (T::kBits - 1);
      if (T::kind == ElementKind::Signed && (low & top)) return low | ~((top << 1) - 1);
      return low;
    }
  }

  uint64_t bits(size_t i) const {
    uint64_t h = hash(i);
    const uint64_t mask = T::kBits == 64 ? ~uint64_t{0} : (uint64_t{1} << T::kBits) - 1;
    if constexpr (kFloat) {
      if (pattern_ == Pattern::AnyFinite) {
        while (!isFiniteBits(h & mask, T::format())) h = mix64(h);
      }
    }
    return h & mask;
  }

  // The small-integer patterns, as a value in [-2, 2].
  int small(size_t i) const {
    const uint64_t h = hash(i);
    if (pattern_ == Pattern::SmallSum) {
      return static_cast<int>(h % smallCount_) - (smallCount_ == 3 ? 1 : 2);
    }
    // Prod: 0 rarely; 2 only from at most three ranks per element (so |product| <= 8 for
    // up to 8 ranks); otherwise -1 or 1 (1 for unsigned types).
    const unsigned pick = h % 16;
    if (pick == 0) return 0;
    const bool twoAllowed = rank_ < 8 && (i + rank_) % 8 < 3;
    if (twoAllowed && (pick & 1)) return 2;
    if (T::kind == ElementKind::Unsigned) return 1;
    return (pick & 2) ? -1 : 1;
  }

  int rank_;
  Pattern pattern_;
  uint64_t key_;
  int smallCount_;
  S encoded_[5] = {};
};

template <class T>
std::string show(typename T::S v) {
  char text[96];
  if constexpr (T::kind == ElementKind::Float) {
    std::snprintf(text, sizeof(text), "%.9g (bits 0x%" PRIx64 ")", T::toDouble(v), T::bitsOf(v));
  } else if constexpr (T::kind == ElementKind::Signed) {
    std::snprintf(text, sizeof(text), "%" PRId64, static_cast<int64_t>(v));
  } else {
    std::snprintf(text, sizeof(text), "%" PRIu64, static_cast<uint64_t>(v));
  }
  return text;
}

// Collects mismatches: counts all, lists the first few.
class MismatchLog {
 public:
  void add(size_t index, const std::string& expected, const std::string& actual) {
    if (count_++ < kListedMismatches) {
      out_ << (count_ > 1 ? "; " : "") << "[" << index << "] expected " << expected << " got "
           << actual;
    }
  }
  std::string finish(size_t total) const {
    if (count_ == 0) return "";
    std::ostringstream s;
    s << count_ << " of " << total << " elements differ: " << out_.str();
    if (count_ > kListedMismatches) s << "; ...";
    return s.str();
  }

 private:
  size_t count_ = 0;
  std::ostringstream out_;
};

// A rank's input read back from a buffer that generateInput filled; the same interface as
// Source.
template <class T>
class ArrayInput {
 public:
  using S = typename T::S;
  explicit ArrayInput(const void* data) : data_(static_cast<const S*>(data)) {}
  double real(size_t i) const {
    if constexpr (T::kind == ElementKind::Float) {
      return T::toDouble(data_[i]);
    } else {
      return 0;
    }
  }
  uint64_t integer(size_t i) const {
    if constexpr (T::kind == ElementKind::Signed) {
      return static_cast<uint64_t>(static_cast<int64_t>(data_[i]));
    } else if constexpr (T::kind == ElementKind::Unsigned) {
      return static_cast<uint64_t>(data_[i]);
    } else {
      return 0;
    }
  }

 private:
  const S* data_;
};

// Element values while reducing: exact doubles for floats, 64-bit two's complement for
// integers (so integer sums and products wrap exactly as the narrow type would).
template <class T>
using Accumulator = std::conditional_t<T::kind == ElementKind::Float, double, uint64_t>;

template <class T, class Input>
Accumulator<T> valueOf(const Input& input, size_t i) {
  if constexpr (T::kind == ElementKind::Float) {
    return input.real(i);
  } else {
    return input.integer(i);
  }
}

// acc[k] = combine(acc[k], input[first + k]) for every rank after the first. The operator
// is chosen once per block so that the inner loops are simple.
template <class T, class Input>
void combineBlock(RefOp op, const std::vector<Input>& src, size_t first, size_t n,
                  Accumulator<T>* acc, Accumulator<T> scale) {
  using A = Accumulator<T>;
  constexpr bool kSigned = T::kind == ElementKind::Signed;
  auto each = [&](auto combine) {
    for (size_t r = 1; r < src.size(); ++r) {
      for (size_t k = 0; k < n; ++k) acc[k] = combine(acc[k], valueOf<T>(src[r], first + k));
    }
  };
  auto greater = [](A a, A b) {
    if constexpr (kSigned) {
      return static_cast<int64_t>(a) > static_cast<int64_t>(b);
    } else {
      return a > b;
    }
  };
  switch (op) {
    case RefOp::Prod:  // for integers: modulo 2^64, the two's complement product
      each([](A a, A x) { return a * x; });
      break;
    case RefOp::Max:
      each([&](A a, A x) { return greater(x, a) ? x : a; });
      break;
    case RefOp::Min:
      each([&](A a, A x) { return greater(a, x) ? x : a; });
      break;
    default:  // Sum, Avg, PreMulSum
      each([=](A a, A x) { return a + scale * x; });
      break;
  }
}

template <class T, class Input>
void reduceT(const InputSpec& spec, const std::vector<Input>& src, size_t first, size_t count,
             void* out) {
  using S = typename T::S;
  using A = Accumulator<T>;
  constexpr size_t kBlock = 4096;
  const auto nranks = static_cast<A>(src.size());
  const RefOp op = *spec.op;
  const A scale = static_cast<A>(op == RefOp::PreMulSum ? spec.scalar : 1);
  A acc[kBlock];
  for (size_t b = 0; b < count; b += kBlock) {
    const size_t n = std::min(kBlock, count - b);
    for (size_t k = 0; k < n; ++k) acc[k] = scale * valueOf<T>(src[0], first + b + k);
    combineBlock<T>(op, src, first + b, n, acc, scale);
    for (size_t k = 0; k < n; ++k) {
      if constexpr (T::kind == ElementKind::Float) {
        if (op == RefOp::Avg) {
          static_cast<double*>(out)[b + k] = acc[k] / nranks;  // exact quotient, unrounded
        } else {
          static_cast<S*>(out)[b + k] = T::fromDouble(acc[k]);
        }
      } else {
        A v = acc[k];
        if (op == RefOp::Avg) {  // C division of the sum: truncation toward zero
          v = T::kind == ElementKind::Signed
                  ? static_cast<A>(static_cast<int64_t>(v) / static_cast<int64_t>(nranks))
                  : v / nranks;
        }
        static_cast<S*>(out)[b + k] = static_cast<S>(v);
      }
    }
  }
}

template <class T>
std::string compareReducedT(const InputSpec& spec, const void* expected, const void* actual,
                            size_t count, size_t indexBase) {
  using S = typename T::S;
  const S* got = static_cast<const S*>(actual);
  MismatchLog log;
  if constexpr (T::kind == ElementKind::Float) {
    if (*spec.op == RefOp::Avg) {
      const double* quotient = static_cast<const double*>(expected);
      for (size_t k = 0; k < count; ++k) {
        const double rounded = T::toDouble(T::fromDouble(quotient[k]));
        const double a = T::toDouble(got[k]);
        if (std::fabs(a - rounded) <= ulpAt(rounded, T::format())) continue;
        char text[64];
        std::snprintf(text, sizeof(text), "%.9g (+-1 ulp)", rounded);
        log.add(indexBase + k, text, show<T>(got[k]));
      }
      return log.finish(count);
    }
  }
  if (count == 0 || std::memcmp(expected, actual, count * sizeof(S)) == 0) return "";
  const S* want = static_cast<const S*>(expected);
  for (size_t k = 0; k < count; ++k) {
    if (std::memcmp(&want[k], &got[k], sizeof(S)) == 0) continue;
    if constexpr (T::kind == ElementKind::Float) {
      if (T::toDouble(want[k]) == T::toDouble(got[k])) continue;  // +0 == -0
    }
    log.add(indexBase + k, show<T>(want[k]), show<T>(got[k]));
  }
  return log.finish(count);
}

template <class T>
std::string compareMovedT(const InputSpec& spec, int srcRank, size_t first, const void* actual,
                          size_t count, size_t indexBase) {
  using S = typename T::S;
  const Source<T> src(spec, srcRank);
  const auto* got = static_cast<const unsigned char*>(actual);
  MismatchLog log;
  for (size_t k = 0; k < count; ++k) {
    const S want = src.stored(first + k);
    if (std::memcmp(&want, got + k * sizeof(S), sizeof(S)) == 0) continue;
    S have;
    std::memcpy(&have, got + k * sizeof(S), sizeof(S));
    log.add(indexBase + k, show<T>(want), show<T>(have));
  }
  return log.finish(count);
}

}  // namespace

const char* refOpName(RefOp op) {
  switch (op) {
    case RefOp::Sum:
      return "sum";
    case RefOp::Prod:
      return "prod";
    case RefOp::Max:
      return "max";
    case RefOp::Min:
      return "min";
    case RefOp::Avg:
      return "avg";
    case RefOp::PreMulSum:
      return "premulsum";
  }
  return "?";
}

ncclRedOp_t builtinOp(RefOp op) {
  switch (op) {
    case RefOp::Sum:
      return ncclSum;
    case RefOp::Prod:
      return ncclProd;
    case RefOp::Max:
      return ncclMax;
    case RefOp::Min:
      return ncclMin;
    case RefOp::Avg:
      return ncclAvg;
    case RefOp::PreMulSum:
      break;
  }
  return ncclNumOps;
}

void generateInput(const InputSpec& spec, int rank, size_t first, size_t count, void* out) {
  visitDtype(spec.dtype, [&](auto traits) {
    using T = decltype(traits);
    using S = typename T::S;
    const Source<T> src(spec, rank);
    S* dst = static_cast<S*>(out);
    for (size_t k = 0; k < count; ++k) dst[k] = src.stored(first + k);
  });
}

size_t expectedElementBytes(const InputSpec& spec) {
  const DtypeInfo& info = dtypeInfo(spec.dtype);
  if (spec.op == RefOp::Avg && info.kind == ElementKind::Float) return sizeof(double);
  return info.size;
}

void referenceReduce(const InputSpec& spec, int nranks, size_t first, size_t count, void* out) {
  visitDtype(spec.dtype, [&](auto traits) {
    using T = decltype(traits);
    std::vector<Source<T>> src;
    for (int r = 0; r < nranks; ++r) src.emplace_back(spec, r);
    reduceT<T>(spec, src, first, count, out);
  });
}

void referenceReduceInputs(const InputSpec& spec, int nranks, const void* const* inputs,
                           size_t first, size_t count, void* out) {
  visitDtype(spec.dtype, [&](auto traits) {
    using T = decltype(traits);
    std::vector<ArrayInput<T>> src;
    for (int r = 0; r < nranks; ++r) src.emplace_back(inputs[r]);
    reduceT<T>(spec, src, first, count, out);
  });
}

int inputPattern(const InputSpec& spec) {
  return static_cast<int>(patternFor(spec, dtypeInfo(spec.dtype).kind));
}

std::string compareReduced(const InputSpec& spec, const void* expected, const void* actual,
                           size_t count, size_t indexBase) {
  return visitDtype(spec.dtype, [&](auto traits) {
    return compareReducedT<decltype(traits)>(spec, expected, actual, count, indexBase);
  });
}

std::string compareMoved(const InputSpec& spec, int srcRank, size_t first, const void* actual,
                         size_t count, size_t indexBase) {
  return visitDtype(spec.dtype, [&](auto traits) {
    return compareMovedT<decltype(traits)>(spec, srcRank, first, actual, count, indexBase);
  });
}

std::string checkUntouched(const void* p, size_t bytes, unsigned char value, const char* what) {
  const auto* b = static_cast<const unsigned char*>(p);
  // Fast path: the region equals itself shifted by one byte and starts with `value`.
  if (bytes == 0 || (b[0] == value && std::memcmp(b, b + 1, bytes - 1) == 0)) return "";
  for (size_t i = 0; i < bytes; ++i) {
    if (b[i] == value) continue;
    char text[160];
    std::snprintf(text, sizeof(text), "%s was written: byte %zu is 0x%02x, expected 0x%02x", what,
                  i, b[i], value);
    return text;
  }
  return "";
}

void encodeScalar(ncclDataType_t dtype, double value, void* out) {
  visitDtype(dtype, [&](auto traits) {
    using T = decltype(traits);
    typename T::S v;
    if constexpr (T::kind == ElementKind::Float) {
      v = T::fromDouble(value);
    } else {
      v = static_cast<typename T::S>(static_cast<int64_t>(value));
    }
    std::memcpy(out, &v, sizeof(v));
  });
}

}  // namespace prism::test
