#include "tests/gpu/spin_kernel.h"

namespace prism::test {
namespace {

__device__ uint64_t globalTimer() {
  uint64_t now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  return now;
}

__global__ void spin(uint64_t nanoseconds) {
  const uint64_t start = globalTimer();
  // Sleeps between reads so that the spinning thread leaves its SM's issue slots to the
  // kernels of other ranks sharing the GPU.
  while (globalTimer() - start < nanoseconds) __nanosleep(1000);
}

}  // namespace

cudaError_t launchSpin(cudaStream_t stream, uint64_t nanoseconds) {
  spin<<<1, 1, 0, stream>>>(nanoseconds);
  return cudaGetLastError();
}

}  // namespace prism::test
