// Device memory through the CUDA runtime. Copies and memsets run on the calling thread's
// per-thread stream and are waited for there: a Comm's non-blocking stream would not wait
// for a copy from pageable memory that cudaMemcpy returned from early.
#include <cuda_runtime_api.h>

#include <mutex>

#include "prism/comm.hpp"
#include "train/overlap/device_memory.h"

namespace prism::overlap::device {

namespace {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  throw CommError(status == cudaErrorMemoryAllocation ? ncclSystemError : ncclUnhandledCudaError,
                  std::string(what) + ": " + cudaGetErrorString(status));
}

}  // namespace

const std::string& unavailableReason() {
  static std::once_flag once;
  static std::string reason;
  std::call_once(once, [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      cudaGetLastError();  // clear the error for the caller's own CUDA calls
      reason = "this process sees no CUDA device";
    }
  });
  return reason;
}

bool isDevicePointer(const void* pointer) {
  if (pointer == nullptr || !unavailableReason().empty()) return false;
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

void* allocate(size_t bytes) {
  void* pointer = nullptr;
  check(cudaMalloc(&pointer, bytes), "cudaMalloc");
  return pointer;
}

void release(void* pointer) noexcept {
  if (pointer != nullptr && cudaFree(pointer) != cudaSuccess) cudaGetLastError();
}

void zero(void* pointer, size_t bytes) {
  check(cudaMemsetAsync(pointer, 0, bytes, cudaStreamPerThread), "cudaMemsetAsync");
  check(cudaStreamSynchronize(cudaStreamPerThread), "cudaStreamSynchronize");
}

void copy(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cudaStreamPerThread),
        "cudaMemcpyAsync");
  check(cudaStreamSynchronize(cudaStreamPerThread), "cudaStreamSynchronize");
}

}  // namespace prism::overlap::device
