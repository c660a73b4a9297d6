// Where buffers live, and device memory for ncclMemAlloc, in a build with CUDA.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "core/error.h"
#include "device/device.h"

namespace prism::device {
namespace {

// Thread ranks sharing a GPU wait for each other inside their kernels, so a peer's kernel
// must be able to start while one waits. CUDA feeds streams into CUDA_DEVICE_MAX_CONNECTIONS
// hardware queues (8 unless set; at most 32) and each queue starts its work in order: once
// more streams than queues hold work, a stream held back behind a waiting kernel (its next
// kernel, or a cudaStreamWaitEvent on it) can block the queue that a peer's kernel is in,
// and neither moves. Seen on an H100 and an H200: 3 thread ranks with a user stream each
// (12 streams), and 4 with prism-train's matrix-product streams. CUDA reads the variable
// when it creates the context, so this runs when the library loads, and never overrides
// the user's own setting (Engine warns when that is below 32). PRISM_DEVICE_SYNC=events
// avoids in-kernel waits altogether, at a host exchange per call.
[[gnu::constructor]] void widenHardwareQueues() {
  setenv("CUDA_DEVICE_MAX_CONNECTIONS", "32", /*overwrite=*/0);
}

}  // namespace

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
