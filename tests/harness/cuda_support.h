// CUDA for the tests without the CUDA headers: whether a device is usable (asked in this
// process or in a forked child), device selection per rank, and RAII device memory and
// streams. Built with or without CUDA (PRISM_HAVE_CUDA); without it no device is ever
// usable and the classes throw when constructed.
//
// Errors throw std::runtime_error naming the CUDA call and error. Inside a rank body the
// harness records it as that rank's failure.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "nccl.h"  // cudaStream_t, without the CUDA headers
#include "tests/harness/rank_runner.h"

namespace prism::test {

/// Empty when this process can use a CUDA device; otherwise "no CUDA device: <reason>".
/// Initializes CUDA in this process, after which a forked child can no longer use CUDA:
/// programs that fork CUDA ranks must use cudaUnavailableReasonInChild. Cached.
std::string cudaUnavailableReason();

/// The same answer, found by a short forked child (it reports through its exit status and
/// a pipe), so that this process never initializes CUDA. Cached.
std::string cudaUnavailableReasonInChild();

/// Number of CUDA devices (0 when none is usable). Initializes CUDA in this process.
int cudaDeviceCount();

/// Makes device `rank % cudaDeviceCount()` current on the calling thread. Meant for
/// RunOptions::rankSetup: NCCL binds a communicator to the device current at init.
void selectRankDevice(RankContext& ctx);

/// The device current on the calling thread.
int currentCudaDevice();

/// Where a pointer lives, as cudaPointerGetAttributes sees it.
enum class PointerKind { Unregistered, Host, Device, Managed };
PointerKind pointerKind(const void* p);
const char* pointerKindName(PointerKind kind);

/// A non-blocking stream on the current device. Non-blocking, so that the legacy default
/// stream (synchronous cudaMemcpy) never orders work on it: a test that copies results
/// with cudaMemcpy after synchronize() sees only what the library's stream work produced.
class DeviceStream {
 public:
  DeviceStream();
  ~DeviceStream();
  DeviceStream(const DeviceStream&) = delete;
  DeviceStream& operator=(const DeviceStream&) = delete;

  cudaStream_t get() const { return stream_; }
  /// cudaStreamSynchronize; throws on an error.
  void synchronize();
  /// Polls the stream for at most `timeout`. True when its work completed; false if work
  /// is still pending at the deadline. Throws on an error.
  bool waitFor(std::chrono::milliseconds timeout);
  /// cudaStreamQuery: true when all work completed, false while some is pending.
  bool idle();

 private:
  cudaStream_t stream_ = nullptr;
};

/// cudaMalloc'ed bytes on the current device, freed on destruction.
class DeviceMemory {
 public:
  explicit DeviceMemory(size_t bytes);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  unsigned char* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  /// Copies host bytes in, ordered on `stream` (cudaMemcpyAsync; the host data is staged
  /// before the call returns, so `src` may change afterwards).
  void upload(size_t offset, const void* src, size_t n, cudaStream_t stream);
  /// Copies bytes out with a synchronous cudaMemcpy on the legacy default stream. It does
  /// not wait for non-blocking streams: synchronize the stream that wrote them first.
  void download(size_t offset, void* dst, size_t n) const;

 private:
  unsigned char* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace prism::test
