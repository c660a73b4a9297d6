// The direct collective kernel (see collective.h): one pass over peers' buffers per rank.
#include <cstring>

#include "base/error.h"
#include "kernels/cuda/collective.h"
#include "kernels/cuda/dispatch.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/launch_config.h"

namespace prism::kernels {
namespace {

using device::Vec;

__device__ __forceinline__ unsigned long long globalNanos() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

/// Orders this thread's earlier writes before its later ones as peers see them.
__device__ __forceinline__ void fence(const DirectArgs& a) {
  if (a.systemScope) {
    __threadfence_system();
  } else {
    __threadfence();
  }
}

/// Spins until *word >= target. False, with the failure flag raised, on abort or timeout.
/// The abort and failure words live in host memory (a PCIe round trip each), so they are
/// read only every few thousand polls; after a long wait the poll also backs off.
__device__ bool waitAtLeast(const unsigned long long* word, unsigned long long target,
                            const DirectArgs& a) {
  const volatile unsigned long long* w = word;
  unsigned long long start = 0;
  for (unsigned spins = 1; *w < target; ++spins) {
    if ((spins & 4095) != 0) continue;
    if (*a.failed != 0 || *a.abortFlag != 0) {
      *a.failed = 1;
      return false;
    }
    unsigned long long now = globalNanos();
    if (start == 0) start = now;
    if (a.timeoutNs != 0 && now - start > a.timeoutNs) {
      *a.failed = 1;
      return false;
    }
    if (now - start > 100000) __nanosleep(256);
  }
  return true;
}

/// The buffers of every rank, gathered into shared memory by the prologue.
struct Tables {
  const void* in[kMaxDirectRanks];
  void* out[kMaxDirectRanks];
  const void* scalarPtr[kMaxDirectRanks];
  unsigned long long scalar[kMaxDirectRanks];  ///< PreMulSum factors, resolved
  unsigned long long seq;
  int ok;
};

/// Flag mode: publishes this rank's buffers and waits for every peer's. Stream-order mode:
/// copies the tables from the arguments. Returns false if the wait gave up.
__device__ bool prologue(const DirectArgs& a, Tables& t) {
  int r = threadIdx.x;
  if (a.sync[0] == nullptr) {
    if (r < a.nranks) {
      t.in[r] = a.in[r];
      t.out[r] = a.out[r];
      t.scalarPtr[r] = a.scalarPtr[r];
      t.scalar[r] = a.scalarBits[r];
    }
    __syncthreads();
    return true;
  }
  RankSync* me = a.sync[a.rank];
  if (r == 0) {
    t.ok = 1;
    t.seq = *reinterpret_cast<volatile unsigned long long*>(&me->completed) + 1;
    if (blockIdx.x == 0) {
      me->in = a.in[a.rank];
      me->out = a.out[a.rank];
      me->scalarPtr = a.scalarPtr[a.rank];
      me->scalarBits = a.scalarBits[a.rank];
      fence(a);
      *reinterpret_cast<volatile unsigned long long*>(&me->arrived) = t.seq;
    }
  }
  __syncthreads();
  if (r < a.nranks) {
    if (r == a.rank) {
      t.in[r] = a.in[r];
      t.out[r] = a.out[r];
      t.scalarPtr[r] = a.scalarPtr[r];
      t.scalar[r] = a.scalarBits[r];
    } else {
      RankSync* peer = a.sync[r];
      if (!waitAtLeast(&peer->arrived, t.seq, a)) t.ok = 0;
      fence(a);
      volatile RankSync* p = peer;
      t.in[r] = p->in;
      t.out[r] = p->out;
      t.scalarPtr[r] = p->scalarPtr;
      t.scalar[r] = p->scalarBits;
    }
  }
  __syncthreads();
  return t.ok != 0;
}

/// Flag mode: the last block of this rank to finish marks the rank done and waits until
/// every peer is done too, so no rank's buffers are reused while another still reads them.
__device__ void epilogue(const DirectArgs& a, const Tables& t) {
  if (a.sync[0] == nullptr) return;
  __syncthreads();
  if (threadIdx.x != 0) return;
  RankSync* me = a.sync[a.rank];
  fence(a);
  if (gridDim.x > 1 && atomicAdd(&me->blocksDone, 1u) != gridDim.x - 1) return;
  *reinterpret_cast<volatile unsigned int*>(&me->blocksDone) = 0;
  fence(a);
  *reinterpret_cast<volatile unsigned long long*>(&me->done) = t.seq;
  bool ok = t.ok != 0;
  for (int q = 0; q < a.nranks && ok; ++q) {
    if (q != a.rank) ok = waitAtLeast(&a.sync[q]->done, t.seq, a);
  }
  *reinterpret_cast<volatile unsigned long long*>(&me->completed) = t.seq;
}

/// Element range [begin, end) of rank r's slice of `count`, cut at multiples of `align`.
__device__ __forceinline__ void sliceOf(size_t count, int nranks, int r, size_t align,
                                        size_t& begin, size_t& end) {
  size_t units = (count + align - 1) / align;
  size_t per = units / nranks, extra = units % nranks;
  size_t first = r * per + (r < static_cast<int>(extra) ? r : extra);
  size_t n = per + (r < static_cast<int>(extra) ? 1 : 0);
  begin = first * align < count ? first * align : count;
  end = (first + n) * align < count ? (first + n) * align : count;
}

/// Reduces elements [0, n) of every input (each advanced by inOff) and stores the result
/// in every output (each advanced by outOff), in rank order, as the host reducers would.
/// PreMulSum: turns each rank's scalar (bits or device pointer) into an element of S.
template <typename S>
__device__ void resolveScalars(const DirectArgs& a, Tables& t) {
  int r = threadIdx.x;
  if (a.preMultiply && r < a.nranks && t.scalarPtr[r] != nullptr) {
    S value = *static_cast<const S*>(t.scalarPtr[r]);
    t.scalar[r] = 0;
    memcpy(&t.scalar[r], &value, sizeof(S));
  }
  __syncthreads();
}

template <typename Codec, typename Op>
__device__ void reduceRange(const DirectArgs& a, const Tables& t, size_t inOff, int nOut,
                            void* const* outs, size_t outOff, size_t n) {
  using S = typename Codec::Storage;
  constexpr int kPer = Vec<S>::kCount;
  const int nIn = a.nranks;
  auto pre = [&](S x, int q) {
    if (!a.preMultiply) return x;
    S scalar;
    memcpy(&scalar, &t.scalar[q], sizeof(S));
    return Codec::store(device::ProdOp{}(Codec::load(x), Codec::load(scalar)));
  };
  auto combine = [](S acc, S x) { return Codec::store(Op{}(Codec::load(acc), Codec::load(x))); };
  auto finish = [&](S x) {
    return a.divisor != 0 ? Codec::store(device::divideBy(Codec::load(x), a.divisor)) : x;
  };
  auto inAt = [&](int q) { return static_cast<const S*>(t.in[q]) + inOff; };
  auto outAt = [&](int o) { return static_cast<S*>(outs[o]) + outOff; };

  size_t tid = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  uintptr_t offset = reinterpret_cast<uintptr_t>(inAt(0)) & 15;
  bool vectors = true;
  for (int q = 0; q < nIn; ++q) vectors &= (reinterpret_cast<uintptr_t>(inAt(q)) & 15) == offset;
  for (int o = 0; o < nOut; ++o) vectors &= (reinterpret_cast<uintptr_t>(outAt(o)) & 15) == offset;
  size_t head = vectors ? ((16 - offset) & 15) / sizeof(S) : n;
  if (head > n) head = n;
  size_t nVec = vectors ? (n - head) / kPer : 0;
  size_t tailStart = head + nVec * kPer;

  size_t scalars = head + (n - tailStart);
  for (size_t i = tid; i < scalars; i += stride) {
    size_t e = i < head ? i : tailStart + (i - head);
    S acc = pre(inAt(0)[e], 0);
    for (int q = 1; q < nIn; ++q) acc = combine(acc, pre(inAt(q)[e], q));
    acc = finish(acc);
    for (int o = 0; o < nOut; ++o) outAt(o)[e] = acc;
  }
  for (size_t v = tid; v < nVec; v += stride) {
    Vec<S> acc, x;
    acc.raw = reinterpret_cast<const uint4*>(inAt(0) + head)[v];
#pragma unroll
    for (int k = 0; k < kPer; ++k) acc.e[k] = pre(acc.e[k], 0);
    for (int q = 1; q < nIn; ++q) {
      x.raw = reinterpret_cast<const uint4*>(inAt(q) + head)[v];
#pragma unroll
      for (int k = 0; k < kPer; ++k) acc.e[k] = combine(acc.e[k], pre(x.e[k], q));
    }
#pragma unroll
    for (int k = 0; k < kPer; ++k) acc.e[k] = finish(acc.e[k]);
    for (int o = 0; o < nOut; ++o) reinterpret_cast<uint4*>(outAt(o) + head)[v] = acc.raw;
  }
}

template <typename Codec, typename Op>
__global__ void __launch_bounds__(detail::kThreads, detail::kBlocksPerSm)
    reduceKernel(DirectArgs a) {
  using S = typename Codec::Storage;
  __shared__ Tables t;
  bool ok = prologue(a, t);
  if (ok) resolveScalars<S>(a, t);
  if (ok) {
    size_t begin = 0, end = 0;
    switch (a.collective) {
      case Collective::AllReduce:
        sliceOf(a.count, a.nranks, a.rank, Vec<S>::kCount, begin, end);
        reduceRange<Codec, Op>(a, t, begin, a.nranks, t.out, begin, end - begin);
        break;
      case Collective::Reduce:
        sliceOf(a.count, a.nranks, a.rank, Vec<S>::kCount, begin, end);
        reduceRange<Codec, Op>(a, t, begin, 1, &t.out[a.root], begin, end - begin);
        break;
      default:  // ReduceScatter: this rank's block of every input into its own output
        reduceRange<Codec, Op>(a, t, a.rank * a.count, 1, &t.out[a.rank], 0, a.count);
        break;
    }
  }
  epilogue(a, t);
}

/// dst[0, bytes) = src[0, bytes) over the whole grid; 16-byte vectors when the two share an
/// offset within 16 bytes.
__device__ void copyBytes(void* dst, const void* src, size_t bytes) {
  if (dst == src || bytes == 0) return;
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  size_t tid = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  uintptr_t offset = reinterpret_cast<uintptr_t>(d) & 15;
  size_t head = bytes, nVec = 0;
  if ((reinterpret_cast<uintptr_t>(s) & 15) == offset) {
    head = (16 - offset) & 15;
    if (head > bytes) head = bytes;
    nVec = (bytes - head) / 16;
  }
  size_t tailStart = head + nVec * 16;
  size_t scalars = head + (bytes - tailStart);
  for (size_t i = tid; i < scalars; i += stride) {
    size_t e = i < head ? i : tailStart + (i - head);
    d[e] = s[e];
  }
  const uint4* vs = reinterpret_cast<const uint4*>(s + head);
  uint4* vd = reinterpret_cast<uint4*>(d + head);
  size_t v = tid;
  for (; v + stride < nVec; v += 2 * stride) {
    uint4 x0 = vs[v], x1 = vs[v + stride];
    vd[v] = x0;
    vd[v + stride] = x1;
  }
  for (; v < nVec; v += stride) vd[v] = vs[v];
}

__global__ void __launch_bounds__(detail::kThreads, detail::kBlocksPerSm)
    moveKernel(DirectArgs a, size_t elemSize) {
  __shared__ Tables t;
  if (prologue(a, t)) {
    int r = a.rank;
    size_t block = a.count * elemSize;
    auto at = [](const void* p, size_t off) { return static_cast<const unsigned char*>(p) + off; };
    auto atw = [](void* p, size_t off) { return static_cast<unsigned char*>(p) + off; };
    switch (a.collective) {
      case Collective::AllGather:
        for (int q = 0; q < a.nranks; ++q) copyBytes(atw(t.out[r], q * block), t.in[q], block);
        break;
      case Collective::AllToAll:
        for (int q = 0; q < a.nranks; ++q) {
          copyBytes(atw(t.out[r], q * block), at(t.in[q], r * block), block);
        }
        break;
      case Collective::Broadcast:
        copyBytes(t.out[r], t.in[a.root], block);
        break;
      case Collective::Gather:
        copyBytes(atw(t.out[a.root], r * block), t.in[r], block);
        break;
      default:  // Scatter
        copyBytes(t.out[r], at(t.in[a.root], r * block), block);
        break;
    }
  }
  epilogue(a, t);
}

}  // namespace

int directBlocks(int device, int nranks) {
  int current = 0;
  cudaGetDevice(&current);
  if (current != device) cudaSetDevice(device);
  int wave = detail::smCount() * detail::kBlocksPerSm;
  if (current != device) cudaSetDevice(current);
  int blocks = wave / (nranks > 0 ? nranks : 1);
  return blocks > 0 ? blocks : 1;
}

void launchDirect(const DirectArgs& args, int blocks, cudaStream_t stream) {
  check(args.nranks >= 1 && args.nranks <= kMaxDirectRanks, ncclInvalidArgument,
        "direct kernel: unsupported rank count " + std::to_string(args.nranks));
  if (!isReduction(args.collective)) {
    moveKernel<<<blocks, detail::kThreads, 0, stream>>>(args, dataTypeSize(args.type));
    detail::checkLaunch("direct data-movement kernel launch");
    return;
  }
  device::visitCodec(args.type, [&]<typename Codec>(Codec) {
    device::visitOp(args.op, [&]<typename Op>(Op) {
      reduceKernel<Codec, Op><<<blocks, detail::kThreads, 0, stream>>>(args);
      detail::checkLaunch("direct reduce kernel launch");
    });
  });
}

}  // namespace prism::kernels
