#include "perf/bench/device_memory.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#if PRISM_BENCH_CUDA
#include <cuda_runtime.h>
#endif

namespace prism::bench {

#if PRISM_BENCH_CUDA
namespace {

std::string cudaText(cudaError_t error) {
  return std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
}

void checkCuda(cudaError_t error, const char* what) {
  if (error != cudaSuccess)
    throw BenchError(std::string(what) + " failed (" + cudaText(error) + ")");
}

// A failure of the capture itself; the library's last error usually says why, since the
// library made the stream's work illegal to capture.
[[noreturn]] void captureFailed(const char* what, cudaError_t error) {
  std::string message =
      std::string("CUDA graph capture: ") + what + " failed (" + cudaText(error) + ")";
  const char* detail = ncclGetLastError(nullptr);
  if (detail != nullptr && *detail != '\0') message += "; ncclGetLastError: " + std::string(detail);
  throw SetupError(message);
}

class DeviceGraph : public CapturedGraph {
 public:
  DeviceGraph(cudaGraphExec_t exec, cudaStream_t stream) : exec_(exec), stream_(stream) {}
  ~DeviceGraph() override { cudaGraphExecDestroy(exec_); }
  DeviceGraph(const DeviceGraph&) = delete;
  DeviceGraph& operator=(const DeviceGraph&) = delete;

  void launch() override { checkCuda(cudaGraphLaunch(exec_, stream_), "cudaGraphLaunch"); }

 private:
  cudaGraphExec_t exec_;
  cudaStream_t stream_;
};

// Every copy and memset goes on the rank's stream and is waited for: the stream is
// non-blocking, so it is not ordered with the legacy default stream that cudaMemcpy uses.
class DeviceMemory : public RankMemory {
 public:
  // `viaNccl`: the buffers come from ncclMemAlloc (--mem ncclmem) instead of cudaMalloc.
  DeviceMemory(int rank, bool viaNccl) : viaNccl_(viaNccl) {
    cudaError_t error = cudaGetDeviceCount(&count_);
    if (error != cudaSuccess || count_ == 0) {
      throw SetupError("--mem device: no CUDA device" +
                       (error != cudaSuccess ? " (cudaGetDeviceCount: " + cudaText(error) + ")"
                                             : std::string()));
    }
    device_ = rank % count_;
    checkCuda(cudaSetDevice(device_), "cudaSetDevice");
    checkCuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
              "cudaStreamCreateWithFlags");
  }
  ~DeviceMemory() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  cudaStream_t stream() const override { return stream_; }
  void synchronize() override {
    checkCuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }
  bool hostAccessible() const override { return false; }
  int deviceCount() const override { return count_; }

  void copyFromHost(void* dst, const void* hostSrc, size_t bytes) override {
    checkCuda(cudaMemcpyAsync(dst, hostSrc, bytes, cudaMemcpyHostToDevice, stream_),
              "cudaMemcpyAsync to the device");
    synchronize();
  }

  void copyToHost(void* hostDst, const void* src, size_t bytes) override {
    checkCuda(cudaMemcpyAsync(hostDst, src, bytes, cudaMemcpyDeviceToHost, stream_),
              "cudaMemcpyAsync to the host");
    synchronize();
  }

  std::string describe(int device) const override {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "[?] unknown device";
    char text[300];
    std::snprintf(text, sizeof(text), "[0x%02x] %s", prop.pciBusID, prop.name);
    return text;
  }

  std::unique_ptr<CapturedGraph> capture(const std::function<void()>& calls) override {
    cudaError_t error = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
    if (error != cudaSuccess) captureFailed("cudaStreamBeginCapture", error);
    try {
      calls();
    } catch (const BenchError& e) {
      // End the capture, so the stream is usable again, then report the call's error.
      cudaGraph_t partial = nullptr;
      if (cudaStreamEndCapture(stream_, &partial) == cudaSuccess && partial != nullptr) {
        cudaGraphDestroy(partial);
      }
      cudaGetLastError();
      throw SetupError(std::string("during CUDA graph capture: ") + e.what());
    }
    cudaGraph_t graph = nullptr;
    error = cudaStreamEndCapture(stream_, &graph);
    if (error != cudaSuccess) captureFailed("cudaStreamEndCapture", error);
    cudaGraphExec_t exec = nullptr;
    error = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (error != cudaSuccess) captureFailed("cudaGraphInstantiate", error);
    auto result = std::make_unique<DeviceGraph>(exec, stream_);
    // Uploading now keeps the one-time upload out of the first timed launch.
    checkCuda(cudaGraphUpload(exec, stream_), "cudaGraphUpload");
    synchronize();
    return result;
  }

 protected:
  char* rawAllocate(size_t bytes) override {
    void* p = nullptr;
    if (viaNccl_) {
      ncclResult_t result = ncclMemAlloc(&p, bytes);
      if (result != ncclSuccess) {
        throw BenchError("ncclMemAlloc of " + std::to_string(bytes) + " bytes on device " +
                         std::to_string(device_) + " failed: " + ncclGetErrorString(result) + " (" +
                         ncclGetLastError(nullptr) + ")");
      }
      return static_cast<char*>(p);
    }
    cudaError_t error = cudaMalloc(&p, bytes);
    if (error != cudaSuccess) {
      throw BenchError("cudaMalloc of " + std::to_string(bytes) + " bytes on device " +
                       std::to_string(device_) + " failed (" + cudaText(error) + ")");
    }
    return static_cast<char*>(p);
  }
  void rawFree(char* p) override {
    if (viaNccl_) {
      ncclMemFree(p);
    } else {
      cudaFree(p);
    }
  }
  void zero(char* p, size_t bytes) override {
    checkCuda(cudaMemsetAsync(p, 0, bytes, stream_), "cudaMemsetAsync");
    synchronize();
  }

 private:
  bool viaNccl_;
  int count_ = 0;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

bool cudaCompiledIn() { return true; }

std::unique_ptr<RankMemory> createDeviceMemory(int rank) {
  return std::make_unique<DeviceMemory>(rank, false);
}

std::unique_ptr<RankMemory> createNcclDeviceMemory(int rank) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return nullptr;
  }
  if (cudaSetDevice(rank % count) != cudaSuccess) return nullptr;
  void* probe = nullptr;
  if (ncclMemAlloc(&probe, 1) != ncclSuccess) return nullptr;
  cudaPointerAttributes attributes{};
  bool onDevice =
      cudaPointerGetAttributes(&attributes, probe) == cudaSuccess &&
      (attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged);
  cudaGetLastError();
  ncclMemFree(probe);
  if (!onDevice) return nullptr;
  return std::make_unique<DeviceMemory>(rank, true);
}

int probeDeviceCount(std::string& error) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    error = "fork failed";
    return -1;
  }
  if (pid == 0) {
    int count = 0;
    cudaError_t result = cudaGetDeviceCount(&count);
    if (result != cudaSuccess) {
      std::fprintf(stderr, "prism-bench: cudaGetDeviceCount: %s\n", cudaText(result).c_str());
      count = 0;
    }
    std::fflush(nullptr);
    _exit(count > 200 ? 200 : count);  // the count is the exit status
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
    error = "the CUDA probe process did not exit normally";
    return -1;
  }
  return WEXITSTATUS(status);
}

#else  // !PRISM_BENCH_CUDA

bool cudaCompiledIn() { return false; }

std::unique_ptr<RankMemory> createDeviceMemory(int rank) {
  throw SetupError("--mem device: this prism-bench was built without CUDA");
}

std::unique_ptr<RankMemory> createNcclDeviceMemory(int rank) { return nullptr; }

int probeDeviceCount(std::string& error) {
  error = "this prism-bench was built without CUDA";
  return -1;
}

#endif

}  // namespace prism::bench
