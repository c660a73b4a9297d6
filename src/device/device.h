// The device side of a communicator: where a buffer lives, and the engine that runs
// operations on CUDA device memory. Builds without CUDA get a stub (device_none.cc) whose
// buffers are all host memory and whose engine refuses device work.
#pragma once

#include <memory>
#include <span>

#include "nccl.h"
#include "src/core/operation.h"

namespace prism {

class PathContext;
class SetupChannel;

namespace device {

enum class Side { Host, Device };

/// True when this build has CUDA and this process sees at least one device. The answer
/// is cached; it is false on machines without a driver.
bool available();
/// Device (cudaMalloc, managed, a peer's mapping) or host (anything else) memory.
Side sideOf(const void* pointer);
/// The calling thread's current CUDA device, or -1 without CUDA.
int currentDevice();

/// ncclMemAlloc / ncclMemFree for device memory. Throw prism::Error on failure.
void* allocate(size_t bytes);
void release(void* pointer);

/// When run() may start device work that waits for peers.
enum class Launch {
  /// NCCL's contract: enqueue and return at once; kernels wait for their peers on the GPU.
  Eager,
  /// Meet every peer on the host first and order the ranks' work with CUDA events they
  /// have all recorded, never with in-kernel waits (thread ranks included). For callers
  /// that enqueue on a thread of their own (the native API): no GPU work then waits for a
  /// peer's work that another CUDA call of the process still holds back.
  AfterPeers,
};

/// Runs one communicator's operations on device buffers, enqueued on their streams.
class Engine {
 public:
  /// Collective over `setup`: every rank says which device and process it is in, and the
  /// ranks exchange what they need to reach each other's memory. Never throws for lack
  /// of CUDA: such an engine reports why when it is asked to run something.
  static std::unique_ptr<Engine> create(PathContext& comm, SetupChannel& setup);
  virtual ~Engine() = default;

  /// Enqueues `ops` (all on device memory, all on one stream) in order.
  virtual void run(std::span<const Operation> ops, Launch launch = Launch::Eager) = 0;
  /// True when run(ops, launch) waits for peers on the host before returning, so that one
  /// thread driving several communicators must drive them from separate threads.
  virtual bool needsHostRendezvous(std::span<const Operation> ops,
                                   Launch launch = Launch::Eager) const = 0;
  /// ncclSuccess, or the error a kernel reported (abort, timeout) since the last call.
  virtual ncclResult_t asyncError() = 0;
  /// ncclCommAbort: kernels waiting on peers give up.
  virtual void abort() = 0;
};

}  // namespace device
}  // namespace prism
