// Where buffers live, and device memory for ncclMemAlloc, in a build with CUDA.
#include <cuda_runtime_api.h>

#include <mutex>
#include <string>

#include "base/error.h"
#include "src/device/device.h"

namespace prism::device {

bool available() {
  static std::once_flag once;
  static bool present = false;
  std::call_once(once, [] {
    int count = 0;
    present = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
    if (!present) cudaGetLastError();  // clear the sticky-free error for the caller
  });
  return present;
}

Side sideOf(const void* pointer) {
  if (pointer == nullptr || !available()) return Side::Host;
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    cudaGetLastError();
    return Side::Host;
  }
  bool device = attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
  return device ? Side::Device : Side::Host;
}

int currentDevice() {
  if (!available()) return -1;
  int device = -1;
  if (cudaGetDevice(&device) != cudaSuccess) return -1;
  return device;
}

void* allocate(size_t bytes) {
  void* pointer = nullptr;
  cudaError_t err = cudaMalloc(&pointer, bytes);
  check(err == cudaSuccess,
        err == cudaErrorMemoryAllocation ? ncclSystemError : ncclUnhandledCudaError,
        "cudaMalloc of " + std::to_string(bytes) + " bytes: " + cudaGetErrorString(err));
  return pointer;
}

void release(void* pointer) {
  cudaError_t err = cudaFree(pointer);
  check(err == cudaSuccess, ncclInvalidArgument,
        std::string("cudaFree: ") + cudaGetErrorString(err));
}

}  // namespace prism::device
