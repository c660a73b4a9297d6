// CUDA IPC: how a rank names one of its device buffers or events to a peer, and how the
// peer turns that name into something it can use. Peers in the same process use the raw
// pointer or event; peers in other processes go through legacy CUDA IPC handles. CUDA
// lets a process open an allocation's handle only once, so mappings are shared by every
// communicator of the process and kept until the owner hands out a new handle for the
// same address (it freed and reallocated it).
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

namespace prism::cuda_ipc {

/// A device buffer as its owner describes it. Plain data, sent over the host.
struct BufferRef {
  uint64_t address = 0;  ///< the pointer in the owner's process; 0: no buffer
  int64_t owner = 0;     ///< the owner's process id
  uint64_t offset = 0;   ///< from the start of its allocation
  cudaIpcMemHandle_t handle{};
};

/// An event as its owner describes it. Plain data.
struct EventRef {
  uint64_t address = 0;  ///< the cudaEvent_t in the owner's process
  cudaIpcEventHandle_t handle{};
};

/// Throws prism::Error (ncclUnhandledCudaError) naming `what` unless `err` is cudaSuccess.
void check(cudaError_t err, const char* what);

/// Names `pointer` (device memory of this process) for peers. Handles are cached per
/// allocation and re-made when the allocation at an address changes.
class Exporter {
 public:
  BufferRef describe(const void* pointer);
  /// Every peer lives in this process: describe() then gives the address alone, with no
  /// IPC handle, so any device allocation works (cudaMallocAsync and VMM ones included).
  void keepInProcess() { inProcess_ = true; }

 private:
  bool inProcess_ = false;
  struct Entry {
    uint64_t bufferId;
    cudaIpcMemHandle_t handle;
  };
  std::map<uint64_t, Entry> byBase_;
};

/// Opens peers' buffers and events through the process-wide mapping table. Thread-safe.
class Importer {
 public:
  /// The peer's buffer in this process (null for an empty ref). `sameProcess`: the
  /// address is usable as it is.
  void* open(const BufferRef& ref, bool sameProcess);
  cudaEvent_t open(const EventRef& ref, bool sameProcess);
};

/// An event other processes can wait on (interprocess, no timing).
cudaEvent_t createSharedEvent();
EventRef describe(cudaEvent_t event);

}  // namespace prism::cuda_ipc
