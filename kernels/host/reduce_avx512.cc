#include "kernels/host/reduce_avx512.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 narrowing intrinsics start from _mm256_undefined_si256(), which its
// -Wmaybe-uninitialized reports at every inlined use; the values are fully written.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "kernels/host/float_convert_inl.h"

namespace prism::kernels {
namespace {

#define PRISM_AVX512 [[gnu::target("avx512f,avx512bw"), gnu::always_inline]] inline

/// Narrows 16 lanes of 16-bit values held in 32-bit lanes and stores them.
PRISM_AVX512 void store16(uint16_t* p, __m512i v32) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(v32));
}

PRISM_AVX512 __m512i load16(const uint16_t* p) {
  return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

/// 16 elements of a 16-bit float type as 16 floats and back, bit for bit what the portable
/// encoders write (see reduce_avx2.cc for why NaN lanes are replaced).
struct HalfLanes {
  static constexpr size_t kLanes = 16;
  PRISM_AVX512 static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  PRISM_AVX512 static void store(uint16_t* p, __m512 v) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    const __m512i sign =
        _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(v), 16), _mm512_set1_epi32(0x8000));
    const __m512i nan = _mm512_or_si512(sign, _mm512_set1_epi32(0x7e00));
    store16(p, _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), h, nan));
  }
};

struct Bf16Lanes {
  static constexpr size_t kLanes = 16;
  PRISM_AVX512 static __m512 load(const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(load16(p), 16));
  }
  PRISM_AVX512 static void store(uint16_t* p, __m512 v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i high = _mm512_srli_epi32(x, 16);
    const __m512i lsb = _mm512_and_si512(high, _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __m512i nan = _mm512_or_si512(high, _mm512_set1_epi32(0x40));
    const __m512i magnitude = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
    const __mmask16 isNan = _mm512_cmpgt_epi32_mask(magnitude, _mm512_set1_epi32(0x7f800000));
    store16(p, _mm512_mask_blend_epi32(isNan, rounded, nan));
  }
};

struct SumLanes {
  PRISM_AVX512 static __m512 apply(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static float scalar(float a, float b) { return a + b; }
};
struct ProdLanes {
  PRISM_AVX512 static __m512 apply(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
  static float scalar(float a, float b) { return a * b; }
};
/// (a > b || a is NaN) ? a : b, the portable Max.
struct MaxLanes {
  PRISM_AVX512 static __m512 apply(__m512 a, __m512 b) {
    const __mmask16 pickA =
        _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ) | _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(pickA, b, a);
  }
  static float scalar(float a, float b) { return (a > b || a != a) ? a : b; }
};
struct MinLanes {
  PRISM_AVX512 static __m512 apply(__m512 a, __m512 b) {
    const __mmask16 pickA =
        _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ) | _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(pickA, b, a);
  }
  static float scalar(float a, float b) { return (a < b || a != a) ? a : b; }
};

#define PRISM_NARROW16_TARGET "avx512f,avx512bw"
#include "kernels/host/narrow16_loop.inc"
#undef PRISM_NARROW16_TARGET

bool haveAvx512() {
  static const bool have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return have;
}

}  // namespace

bool reduceNarrow16Avx512(DataType type, ReduceOp op, void* dst, const void* a, const void* b,
                          size_t count) {
  if (!haveAvx512()) return false;
  return reduceNarrow16(type, op, dst, a, b, count);
}

}  // namespace prism::kernels

#else

namespace prism::kernels {
bool reduceNarrow16Avx512(DataType, ReduceOp, void*, const void*, const void*, size_t) {
  return false;
}
}  // namespace prism::kernels

#endif
