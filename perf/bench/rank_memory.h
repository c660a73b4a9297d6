// A rank's memory: where its send and receive buffers live (--mem), the stream its calls
// run on, and copies between that memory and the host for setting up and checking data.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "nccl.h"
#include "perf/bench/options.h"

namespace prism::bench {

/// A failed call; the message names the call and the reason.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failure the user can fix rather than a wrong result: no CUDA device for --mem device,
/// a CUDA graph that cannot be captured. prism-bench exits with status 2 on it.
class SetupError : public BenchError {
 public:
  using BenchError::BenchError;
};

/// Throws BenchError "what failed: <reason> (<the communicator's last error>)" unless
/// `result` is ncclSuccess.
void throwIfFailed(ncclComm_t comm, ncclResult_t result, const char* what);

/// Runs one rank's work and turns its errors into the exit status, reported on stderr
/// with the rank: SetupError 2, BenchError 1; otherwise what `body` returns.
int exitStatusOf(int rank, const std::function<int()>& body);

class RankMemory;

/// Frees through the memory that allocated it.
struct BufferDeleter {
  RankMemory* memory = nullptr;
  void operator()(char* p) const;
};
using Buffer = std::unique_ptr<char, BufferDeleter>;

/// A captured sequence of calls that can be replayed on the rank's stream.
class CapturedGraph {
 public:
  virtual ~CapturedGraph() = default;
  /// Enqueues one replay; complete after RankMemory::synchronize.
  virtual void launch() = 0;
};

/// One rank's memory of one kind. Errors throw BenchError (SetupError where the user can
/// fix them).
class RankMemory {
 public:
  /// Host and ncclmem memory need no device; device memory selects device
  /// rank % deviceCount for the calling thread and creates the rank's stream.
  static std::unique_ptr<RankMemory> create(MemKind kind, int rank);

  virtual ~RankMemory() = default;

  /// `bytes` (at least 1) of zeroed memory, every page touched so that first-touch
  /// faults stay out of timing.
  Buffer allocate(size_t bytes);
  /// The stream every call of this rank goes on; null for host memory.
  virtual cudaStream_t stream() const { return nullptr; }
  /// Waits for everything enqueued on stream(); a no-op where calls complete on return.
  virtual void synchronize() {}
  /// True when the host can read and write the buffers directly.
  virtual bool hostAccessible() const { return true; }
  /// Copies between the host and memory from allocate().
  virtual void copyFromHost(void* dst, const void* hostSrc, size_t bytes);
  virtual void copyToHost(void* hostDst, const void* src, size_t bytes);
  /// How many devices the rank's process sees (0 for host memory); rank r uses device
  /// r % deviceCount().
  virtual int deviceCount() const { return 0; }
  /// "[0x1b] NVIDIA H100 80GB HBM3" for a device, "[host] host memory" for none; what
  /// the header lists after the device number.
  virtual std::string describe(int device) const;
  /// Records the calls `calls` enqueues on stream() into a graph without running them.
  /// Only device memory can; an error during capture throws SetupError.
  virtual std::unique_ptr<CapturedGraph> capture(const std::function<void()>& calls);

 protected:
  friend struct BufferDeleter;
  virtual char* rawAllocate(size_t bytes) = 0;
  virtual void rawFree(char* p) = 0;
  /// Sets `bytes` at `p` to zero (and so touches every page).
  virtual void zero(char* p, size_t bytes);
};

}  // namespace prism::bench
