#include "kernels/cuda/launch_config.h"

#include <atomic>
#include <string>

#include "base/error.h"

namespace prism::kernels::detail {
namespace {

constexpr int kMaxDevices = 64;

void checkCuda(cudaError_t err, const char* what) {
  check(err == cudaSuccess, ncclUnhandledCudaError,
        std::string(what) + ": " + cudaGetErrorString(err));
}

}  // namespace

int smCount() {
  static std::atomic<int> cache[kMaxDevices];
  int device = 0;
  checkCuda(cudaGetDevice(&device), "cudaGetDevice");
  if (device < kMaxDevices) {
    if (int cached = cache[device].load(std::memory_order_relaxed)) return cached;
  }
  int sms = 0;
  checkCuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
            "cudaDeviceGetAttribute(MultiProcessorCount)");
  if (device < kMaxDevices) cache[device].store(sms, std::memory_order_relaxed);
  return sms;
}

unsigned gridFor(size_t work) {
  size_t wanted = (work + kThreads - 1) / kThreads;
  size_t wave = static_cast<size_t>(smCount()) * kBlocksPerSm;
  size_t blocks = wanted < wave ? wanted : wave;
  return static_cast<unsigned>(blocks > 0 ? blocks : 1);
}

void checkLaunch(const char* what) { checkCuda(cudaGetLastError(), what); }

}  // namespace prism::kernels::detail
