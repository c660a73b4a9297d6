#include "kernels/host/copy.h"

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace prism::kernels {

bool streamingSlotsPay() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return false;
  // "AuthenticAMD" in EBX, EDX, ECX order.
  const bool amd = ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163;
  if (!amd || __get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  unsigned family = (eax >> 8) & 0xf;
  if (family == 0xf) family += (eax >> 20) & 0xff;
  return family >= 0x1a;
#else
  return false;
#endif
}

void copyStreaming(void* dst, const void* src, size_t bytes) {
  copyStreamingUnfenced(dst, src, bytes);
  fenceStreamingStores();
}

void fenceStreamingStores() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

void copyStreamingUnfenced(void* dst, const void* src, size_t bytes) {
#if !defined(__SSE2__)
  std::memcpy(dst, src, bytes);  // no streaming stores on this target
#else
  auto* d = static_cast<std::byte*>(dst);
  const auto* s = static_cast<const std::byte*>(src);
  // Below a few cache lines the fence costs more than the stores save.
  if (bytes < 256) {
    std::memcpy(d, s, bytes);
    return;
  }
  size_t head = (16 - reinterpret_cast<uintptr_t>(d) % 16) % 16;
  std::memcpy(d, s, head);
  d += head;
  s += head;
  bytes -= head;
  auto* out = reinterpret_cast<__m128i*>(d);
  const auto* in = reinterpret_cast<const __m128i*>(s);
  size_t vectors = bytes / 16;
  size_t i = 0;
  // Four vectors (one 64-byte line when aligned) per iteration keep the write-combining
  // buffers full.
  for (; i + 4 <= vectors; i += 4) {
    __m128i a = _mm_loadu_si128(in + i);
    __m128i b = _mm_loadu_si128(in + i + 1);
    __m128i c = _mm_loadu_si128(in + i + 2);
    __m128i e = _mm_loadu_si128(in + i + 3);
    _mm_stream_si128(out + i, a);
    _mm_stream_si128(out + i + 1, b);
    _mm_stream_si128(out + i + 2, c);
    _mm_stream_si128(out + i + 3, e);
  }
  for (; i < vectors; ++i) _mm_stream_si128(out + i, _mm_loadu_si128(in + i));
  std::memcpy(d + vectors * 16, s + vectors * 16, bytes % 16);
#endif
}

#if defined(__SSE2__)
namespace {

/// One pass over `src`: each 16-byte vector is loaded once and stored to both destinations,
/// with a streaming store where the flag says so (that destination is then 16-byte aligned).
template <bool kStreamA, bool kStreamB>
void copyToBothVectors(std::byte* a, std::byte* b, const std::byte* src, size_t vectors) {
  auto put = [](std::byte* dst, size_t i, __m128i v, auto streaming) {
    auto* p = reinterpret_cast<__m128i*>(dst) + i;
    if constexpr (decltype(streaming)::value)
      _mm_stream_si128(p, v);
    else
      _mm_storeu_si128(p, v);
  };
  const auto* in = reinterpret_cast<const __m128i*>(src);
  for (size_t i = 0; i < vectors; ++i) {
    __m128i v = _mm_loadu_si128(in + i);
    put(a, i, v, std::bool_constant<kStreamA>{});
    put(b, i, v, std::bool_constant<kStreamB>{});
  }
}

}  // namespace
#endif

void copyToBoth(void* a, bool streamA, void* b, bool streamB, const void* src, size_t bytes) {
  auto* da = static_cast<std::byte*>(a);
  auto* db = static_cast<std::byte*>(b);
  const auto* s = static_cast<const std::byte*>(src);
#if defined(__SSE2__)
  auto aligned = [](const std::byte* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if ((streamA || streamB) && bytes >= 256 && (!streamA || aligned(da)) &&
      (!streamB || aligned(db))) {
    const size_t vectors = bytes / 16;
    if (streamA && streamB)
      copyToBothVectors<true, true>(da, db, s, vectors);
    else if (streamA)
      copyToBothVectors<true, false>(da, db, s, vectors);
    else
      copyToBothVectors<false, true>(da, db, s, vectors);
    _mm_sfence();
    const size_t done = vectors * 16;
    std::memcpy(da + done, s + done, bytes - done);
    std::memcpy(db + done, s + done, bytes - done);
    return;
  }
#endif
  // Plain stores, or a streaming destination off 16-byte alignment: two passes, the second
  // reading `src` from cache when it is small.
  for (auto [dst, stream] : {std::pair{da, streamA}, std::pair{db, streamB}}) {
    if (stream)
      copyStreaming(dst, s, bytes);
    else
      std::memcpy(dst, s, bytes);
  }
}

}  // namespace prism::kernels
