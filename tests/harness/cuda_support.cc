#include "tests/harness/cuda_support.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#if PRISM_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace prism::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPrefix = "no CUDA device: ";

#if PRISM_HAVE_CUDA
std::string errorText(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
}

void check(cudaError_t e, const std::string& call) {
  if (e != cudaSuccess) throw std::runtime_error(call + " failed: " + errorText(e));
}

std::string probe() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) return kPrefix + std::string("cudaGetDeviceCount: ") + errorText(e);
  if (count <= 0) return kPrefix + std::string("cudaGetDeviceCount reports 0 devices");
  return "";
}
#else
[[noreturn]] void noCuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": Prism was built without CUDA");
}

std::string probe() { return kPrefix + std::string("Prism was built without CUDA"); }
#endif

// Runs probe() in a forked child. Exit status 0: a device is usable; 1: the pipe carries
// the reason. Anything else is reported as the reason, so that a broken driver skips the
// tests with an explanation instead of hanging or crashing the test program.
std::string probeInChild() {
  int fds[2];
  if (pipe(fds) != 0) return kPrefix + std::string("pipe: ") + std::strerror(errno);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return kPrefix + std::string("fork: ") + std::strerror(errno);
  }
  if (pid == 0) {
    close(fds[0]);
    const std::string reason = probe();
    if (!reason.empty()) {
      const ssize_t unused = write(fds[1], reason.data(), reason.size());
      (void)unused;
    }
    _exit(reason.empty() ? 0 : 1);
  }
  close(fds[1]);
  // cudaGetDeviceCount loads the driver; it takes seconds at most on a healthy machine.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  std::string reason;
  char buf[512];
  for (;;) {
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, 100);
    if (ready > 0) {
      const ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;  // EOF: the child exited
      reason.append(buf, static_cast<size_t>(n));
    } else if (ready < 0 && errno != EINTR) {
      break;
    }
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && !reason.empty()) return reason;
  if (WIFSIGNALED(status)) {
    return kPrefix + std::string("the probe process (cudaGetDeviceCount) was killed by signal ") +
           std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  }
  return kPrefix + std::string("the probe process (cudaGetDeviceCount) exited with status ") +
         std::to_string(WEXITSTATUS(status));
}

}  // namespace

std::string cudaUnavailableReason() {
  static const std::string reason = probe();
  return reason;
}

std::string cudaUnavailableReasonInChild() {
  static const std::string reason = probeInChild();
  return reason;
}

const char* pointerKindName(PointerKind kind) {
  switch (kind) {
    case PointerKind::Unregistered:
      return "unregistered host memory";
    case PointerKind::Host:
      return "registered host memory";
    case PointerKind::Device:
      return "device memory";
    case PointerKind::Managed:
      return "managed memory";
  }
  return "?";
}

#if PRISM_HAVE_CUDA

int cudaDeviceCount() {
  if (!cudaUnavailableReason().empty()) return 0;
  int count = 0;
  check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  return count;
}

void selectRankDevice(RankContext& ctx) {
  const int count = cudaDeviceCount();
  ctx.require(count > 0, "selectRankDevice: " + cudaUnavailableReason());
  check(cudaSetDevice(ctx.rank % count), "cudaSetDevice(" + std::to_string(ctx.rank % count) + ")");
}

int currentCudaDevice() {
  int device = -1;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

PointerKind pointerKind(const void* p) {
  cudaPointerAttributes attributes{};
  check(cudaPointerGetAttributes(&attributes, p), "cudaPointerGetAttributes");
  switch (attributes.type) {
    case cudaMemoryTypeHost:
      return PointerKind::Host;
    case cudaMemoryTypeDevice:
      return PointerKind::Device;
    case cudaMemoryTypeManaged:
      return PointerKind::Managed;
    default:
      return PointerKind::Unregistered;
  }
}

DeviceStream::DeviceStream() {
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
}

DeviceStream::~DeviceStream() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void DeviceStream::synchronize() { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

bool DeviceStream::idle() {
  const cudaError_t e = cudaStreamQuery(stream_);
  if (e == cudaErrorNotReady) return false;
  check(e, "cudaStreamQuery");
  return true;
}

bool DeviceStream::waitFor(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (idle()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

DeviceMemory::DeviceMemory(size_t bytes) : bytes_(bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), "cudaMalloc(" + std::to_string(bytes) + ")");
  ptr_ = static_cast<unsigned char*>(p);
}

DeviceMemory::~DeviceMemory() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

void DeviceMemory::upload(size_t offset, const void* src, size_t n, cudaStream_t stream) {
  if (offset + n > bytes_) throw std::out_of_range("DeviceMemory::upload past the end");
  if (n == 0) return;
  check(cudaMemcpyAsync(ptr_ + offset, src, n, cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync(host to device, " + std::to_string(n) + " bytes)");
}

void DeviceMemory::download(size_t offset, void* dst, size_t n) const {
  if (offset + n > bytes_) throw std::out_of_range("DeviceMemory::download past the end");
  if (n == 0) return;
  check(cudaMemcpy(dst, ptr_ + offset, n, cudaMemcpyDeviceToHost),
        "cudaMemcpy(device to host, " + std::to_string(n) + " bytes)");
}

#else  // !PRISM_HAVE_CUDA

int cudaDeviceCount() { return 0; }
void selectRankDevice(RankContext& ctx) { ctx.fail("selectRankDevice: " + probe()); }
int currentCudaDevice() { noCuda("cudaGetDevice"); }
PointerKind pointerKind(const void*) { return PointerKind::Unregistered; }
DeviceStream::DeviceStream() { noCuda("DeviceStream"); }
DeviceStream::~DeviceStream() = default;
void DeviceStream::synchronize() { noCuda("cudaStreamSynchronize"); }
bool DeviceStream::idle() { noCuda("cudaStreamQuery"); }
bool DeviceStream::waitFor(std::chrono::milliseconds) { noCuda("cudaStreamQuery"); }
DeviceMemory::DeviceMemory(size_t) { noCuda("DeviceMemory"); }
DeviceMemory::~DeviceMemory() = default;
void DeviceMemory::upload(size_t, const void*, size_t, cudaStream_t) { noCuda("upload"); }
void DeviceMemory::download(size_t, void*, size_t) const { noCuda("download"); }

#endif

}  // namespace prism::test
