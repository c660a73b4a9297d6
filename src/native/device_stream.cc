#include "src/native/device_stream.h"

#include <cstring>

#include "base/error.h"

#if PRISM_HAVE_CUDA
#include <cuda_runtime_api.h>

#include <string>
#endif

namespace prism::native {

#if PRISM_HAVE_CUDA

namespace {

void checkCuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw Error(ncclUnhandledCudaError, std::string(what) + ": " + cudaGetErrorString(status));
}

}  // namespace

void useDevice(int device) {
  if (device >= 0) checkCuda(cudaSetDevice(device), "cudaSetDevice");
}

void* createStream(int device) {
  useDevice(device);
  cudaStream_t stream = nullptr;
  checkCuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  return stream;
}

void destroyStream(void* stream) {
  if (stream != nullptr) cudaStreamDestroy(static_cast<cudaStream_t>(stream));
}

void* recordEvent(void* stream) {
  cudaEvent_t event = nullptr;
  checkCuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
  checkCuda(cudaEventRecord(event, static_cast<cudaStream_t>(stream)), "cudaEventRecord");
  return event;
}

bool eventDone(void* event) {
  cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (status == cudaErrorNotReady) return false;
  checkCuda(status, "cudaEventQuery");
  return true;
}

void destroyEvent(void* event) {
  if (event != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

void streamWaitEvent(void* stream, void* event) {
  checkCuda(
      cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), static_cast<cudaEvent_t>(event), 0),
      "cudaStreamWaitEvent");
}

void zeroDeviceBytes(void* pointer, size_t bytes) {
  checkCuda(cudaMemsetAsync(pointer, 0, bytes, cudaStreamPerThread), "cudaMemsetAsync");
  checkCuda(cudaStreamSynchronize(cudaStreamPerThread), "cudaStreamSynchronize");
}

void copyAnyBytes(void* dst, const void* src, size_t bytes) {
  // The per-thread stream and a synchronize: cudaMemcpy may return before a copy from
  // pageable memory reaches the device, and the Comm's stream does not wait for it.
  checkCuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cudaStreamPerThread),
            "cudaMemcpyAsync");
  checkCuda(cudaStreamSynchronize(cudaStreamPerThread), "cudaStreamSynchronize");
}

#else

namespace {

[[noreturn]] void noCuda() {
  throw Error(ncclInvalidUsage, "device operation in a build without CUDA");
}

}  // namespace

void useDevice(int) {}
void* createStream(int) { noCuda(); }
void destroyStream(void*) {}
void* recordEvent(void*) { noCuda(); }
bool eventDone(void*) { noCuda(); }
void destroyEvent(void*) {}
void streamWaitEvent(void*, void*) { noCuda(); }
void zeroDeviceBytes(void*, size_t) { noCuda(); }
void copyAnyBytes(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

#endif

}  // namespace prism::native
