#include "kernels/host/reduce_avx2.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "kernels/host/float_convert_inl.h"

namespace prism::kernels {
namespace {

#define PRISM_AVX2 [[gnu::target("avx2,f16c"), gnu::always_inline]] inline

/// Packs 8 lanes of 16-bit values held in 32-bit lanes and stores them.
PRISM_AVX2 void store8(uint16_t* p, __m256i v32) {
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(v32, v32), 0x08);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
}

/// How 8 elements of a 16-bit float type become 8 floats and back. Both store() functions
/// write what the portable encoders write, bit for bit, NaN results included.
struct HalfLanes {
  static constexpr size_t kLanes = 8;
  PRISM_AVX2 static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  /// vcvtps2ph rounds to nearest even like the portable encoder but keeps NaN payloads,
  /// where the portable encoder writes sign | 0x7e00, so NaN lanes are replaced. Without a
  /// branch: a test-and-skip for NaN-free vectors mispredicts on random data (1.5 GB/s).
  PRISM_AVX2 static void store(uint16_t* p, __m256 v) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    const __m256i sign =
        _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(v), 16), _mm256_set1_epi32(0x8000));
    const __m256i nan = _mm256_or_si256(sign, _mm256_set1_epi32(0x7e00));
    const __m256i isNan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    store8(p, _mm256_blendv_epi8(h, nan, isNan));
  }
};

struct Bf16Lanes {
  static constexpr size_t kLanes = 8;
  PRISM_AVX2 static __m256 load(const uint16_t* p) {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  /// Round to nearest even on the low 16 bits; NaN keeps its top payload and gets the
  /// quiet bit (see inl::floatToBf16).
  PRISM_AVX2 static void store(uint16_t* p, __m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i high = _mm256_srli_epi32(x, 16);
    const __m256i lsb = _mm256_and_si256(high, _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i nan = _mm256_or_si256(high, _mm256_set1_epi32(0x40));
    const __m256i magnitude = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    const __m256i isNan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7f800000));
    store8(p, _mm256_blendv_epi8(rounded, nan, isNan));
  }
};

struct SumLanes {
  PRISM_AVX2 static __m256 apply(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  static float scalar(float a, float b) { return a + b; }
};
struct ProdLanes {
  PRISM_AVX2 static __m256 apply(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
  static float scalar(float a, float b) { return a * b; }
};
/// (a > b || a is NaN) ? a : b, the portable Max.
struct MaxLanes {
  PRISM_AVX2 static __m256 apply(__m256 a, __m256 b) {
    const __m256 pickA =
        _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_GT_OQ), _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    return _mm256_blendv_ps(b, a, pickA);
  }
  static float scalar(float a, float b) { return (a > b || a != a) ? a : b; }
};
struct MinLanes {
  PRISM_AVX2 static __m256 apply(__m256 a, __m256 b) {
    const __m256 pickA =
        _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_LT_OQ), _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    return _mm256_blendv_ps(b, a, pickA);
  }
  static float scalar(float a, float b) { return (a < b || a != a) ? a : b; }
};

#define PRISM_NARROW16_TARGET "avx2,f16c"
#include "kernels/host/narrow16_loop.inc"
#undef PRISM_NARROW16_TARGET

bool haveAvx2F16c() {
  static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  return have;
}

}  // namespace

bool reduceNarrow16Avx2(DataType type, ReduceOp op, void* dst, const void* a, const void* b,
                        size_t count) {
  if (!haveAvx2F16c()) return false;
  return reduceNarrow16(type, op, dst, a, b, count);
}

}  // namespace prism::kernels

#else

namespace prism::kernels {
bool reduceNarrow16Avx2(DataType, ReduceOp, void*, const void*, const void*, size_t) {
  return false;
}
}  // namespace prism::kernels

#endif
