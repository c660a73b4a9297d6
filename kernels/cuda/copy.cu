// Copy kernels. The element width is the widest of 8, 4, 2, 1 bytes that divides the byte
// count and every pointer, so that mutually misaligned buffers still move in words.
#include <cstdint>

#include "kernels/cuda/device_reduce.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/launch_config.h"

namespace prism::kernels {
namespace {

template <typename S>
__global__ void __launch_bounds__(detail::kThreads, detail::kBlocksPerSm)
    copyKernel(device::Operands<S> p, device::Split split) {
  device::elementwise<false>(p, split, [](S x, S) { return x; });
}

template <typename S>
void launchCopyAs(void* dst1, void* dst2, const void* src, size_t bytes, cudaStream_t stream) {
  size_t count = bytes / sizeof(S);
  device::Operands<S> p{static_cast<S*>(dst1), static_cast<S*>(dst2), static_cast<const S*>(src),
                        nullptr, count};
  const void* ptrs[] = {src, dst1, dst2};
  device::Split split = device::splitForVectors(sizeof(S), count, ptrs, 3);
  unsigned grid = detail::gridFor(device::splitWork(split, sizeof(S), count));
  copyKernel<S><<<grid, detail::kThreads, 0, stream>>>(p, split);
  detail::checkLaunch("copy kernel launch");
}

void launchCopies(void* dst1, void* dst2, const void* src, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return;
  uintptr_t bits = bytes | reinterpret_cast<uintptr_t>(dst1) | reinterpret_cast<uintptr_t>(src) |
                   reinterpret_cast<uintptr_t>(dst2);
  if (bits % 8 == 0) return launchCopyAs<uint64_t>(dst1, dst2, src, bytes, stream);
  if (bits % 4 == 0) return launchCopyAs<uint32_t>(dst1, dst2, src, bytes, stream);
  if (bits % 2 == 0) return launchCopyAs<uint16_t>(dst1, dst2, src, bytes, stream);
  launchCopyAs<uint8_t>(dst1, dst2, src, bytes, stream);
}

}  // namespace

void launchCopy(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  launchCopies(dst, nullptr, src, bytes, stream);
}

void launchDualCopy(void* dst1, void* dst2, const void* src, size_t bytes, cudaStream_t stream) {
  launchCopies(dst1, dst2, src, bytes, stream);
}

}  // namespace prism::kernels
