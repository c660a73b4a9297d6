// The one loop every CUDA element kernel runs: dst1[i] (and dst2[i]) = fn(a[i], b[i]).
//
// When a, b, dst1 and dst2 sit at the same offset within 16 bytes, the middle of the range
// moves as 16-byte vectors and only a short head (up to the first 16-byte boundary) and
// tail are scalar. Pointers at different offsets cannot all be vector-aligned at once, so
// then every element is scalar; consecutive threads still touch consecutive elements, so
// those accesses coalesce. Both loops are grid-stride, so any grid size covers any count.
#pragma once

#include <cstddef>
#include <cstdint>

namespace prism::kernels::device {

/// The buffers of one elementwise pass. dst2 and b may be null (no second output, unary op).
/// Plain data: passed to kernels by value.
template <typename S>
struct Operands {
  S* dst1;
  S* dst2;
  const S* a;
  const S* b;
  size_t count;
};

/// How the range is cut: [0, head) scalar, then `vectors` 16-byte vectors, then the rest
/// scalar. head == count and vectors == 0 when the pointers are mutually misaligned.
struct Split {
  size_t head;
  size_t vectors;
};

/// Elements are assumed naturally aligned, so offsets are multiples of elemSize.
inline Split splitForVectors(size_t elemSize, size_t count, const void* const* ptrs, int n) {
  uintptr_t offset = reinterpret_cast<uintptr_t>(ptrs[0]) & 15;
  for (int i = 1; i < n; ++i) {
    if (ptrs[i] != nullptr && (reinterpret_cast<uintptr_t>(ptrs[i]) & 15) != offset) {
      return {count, 0};
    }
  }
  size_t head = ((16 - offset) & 15) / elemSize;
  if (head >= count) return {count, 0};
  return {head, (count - head) / (16 / elemSize)};
}

/// Work items of a split: the larger of its scalar elements and its vectors.
inline size_t splitWork(const Split& s, size_t elemSize, size_t count) {
  size_t tail = count - s.head - s.vectors * (16 / elemSize);
  size_t scalars = s.head + tail;
  return scalars > s.vectors ? scalars : s.vectors;
}

template <typename S>
union Vec {
  static constexpr int kCount = 16 / sizeof(S);
  uint4 raw;
  S e[kCount];
};

/// Vectors each thread loads before it computes: with a full SM (2048 threads) two keep
/// 128 KiB per SM in flight, several times what covers HBM latency on H100/H200.
inline constexpr int kUnroll = 2;

/// Runs fn over the pass. kBinary: fn reads b; otherwise b is never touched.
template <bool kBinary, typename S, typename Fn>
__device__ __forceinline__ void elementwise(const Operands<S>& p, Split split, Fn fn) {
  constexpr int kPer = Vec<S>::kCount;
  size_t tid = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;

  size_t tailStart = split.head + split.vectors * kPer;
  size_t scalars = split.head + (p.count - tailStart);
  for (size_t i = tid; i < scalars; i += stride) {
    size_t e = i < split.head ? i : tailStart + (i - split.head);
    S r = fn(p.a[e], kBinary ? p.b[e] : S{});
    p.dst1[e] = r;
    if (p.dst2 != nullptr) p.dst2[e] = r;
  }

  const uint4* va = reinterpret_cast<const uint4*>(p.a + split.head);
  const uint4* vb = reinterpret_cast<const uint4*>(p.b + split.head);
  uint4* vd1 = reinterpret_cast<uint4*>(p.dst1 + split.head);
  uint4* vd2 = reinterpret_cast<uint4*>(p.dst2 + split.head);
  auto apply = [&](const Vec<S>& x, const Vec<S>& y, size_t v) {
    Vec<S> r;
#pragma unroll
    for (int k = 0; k < kPer; ++k) r.e[k] = fn(x.e[k], y.e[k]);
    vd1[v] = r.raw;
    if (p.dst2 != nullptr) vd2[v] = r.raw;
  };
  size_t v = tid;
  // All loads of an iteration are issued before any result is computed or stored.
  for (; v + (kUnroll - 1) * stride < split.vectors; v += kUnroll * stride) {
    Vec<S> x[kUnroll], y[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      x[u].raw = va[v + u * stride];
      y[u].raw = kBinary ? vb[v + u * stride] : uint4{};
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) apply(x[u], y[u], v + u * stride);
  }
  for (; v < split.vectors; v += stride) {
    Vec<S> x, y;
    x.raw = va[v];
    y.raw = kBinary ? vb[v] : uint4{};
    apply(x, y, v);
  }
}

}  // namespace prism::kernels::device
