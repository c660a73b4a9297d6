// The CUDA engine: runs a communicator's operations on device buffers with the direct
// kernels of kernels/cuda/collective.h. See docs/ARCHITECTURE.md, "Device path".
#pragma once

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "kernels/cuda/collective.h"
#include "src/device/device.h"
#include "transports/cuda_ipc/ipc.h"

namespace prism::device {

/// Events per rank that operations take turns with; two would do (a rank is never more
/// than one operation ahead of a peer that still waits on its event).
inline constexpr int kEventSlots = 4;

class CudaEngine final : public Engine {
 public:
  CudaEngine(PathContext& comm, SetupChannel& setup);
  ~CudaEngine() override;

  void run(std::span<const Operation> ops, Launch launch) override;
  bool needsHostRendezvous(std::span<const Operation> ops, Launch launch) const override;
  ncclResult_t asyncError() override;
  void abort() override;

 private:
  struct Peer {
    bool sameProcess = false;
    int device = -1;
    cudaEvent_t ready[kEventSlots] = {};
    /// The peer's events set aside for this rank: recorded here once this rank no longer
    /// reads or writes the peer's buffers of the operation in that slot.
    cudaEvent_t release[kEventSlots] = {};
  };

  void setUp(SetupChannel& setup);
  static bool capturing(cudaStream_t stream);
  /// True when this call's collectives wait for their peers inside the kernel (flag mode)
  /// rather than through CUDA events exchanged on the host.
  bool waitsInKernel(Launch launch, cudaStream_t stream) const;
  void runCollective(const Operation& op, cudaStream_t stream, bool inKernelWaits);
  void runPointToPoint(std::span<const Operation> ops, cudaStream_t stream);
  /// Stream-order mode: makes peers' buffers of `args` reachable and orders `stream`
  /// after their inputs, launches, then orders it before their next writes.
  void launchOrdered(kernels::DirectArgs& args, int blocks, bool exportIn, bool exportOut,
                     cudaStream_t stream);
  void orderAfterPrevious(cudaStream_t stream);
  int blocksFor(size_t bytesPerRank) const;
  void* scratch(size_t bytes, cudaStream_t stream);

  PathContext& comm_;
  int rank_ = 0;
  int size_ = 1;
  int device_ = -1;
  std::string unusable_;  ///< why device operations cannot run here, or empty
  bool flagMode_ = false;
  int maxBlocks_ = 1;
  std::vector<Peer> peers_;
  cudaEvent_t ready_[kEventSlots] = {};
  /// [peer * kEventSlots + slot]: recorded by that peer when it is done with this rank's
  /// buffers. The waiting rank owns the event, so a peer that returns and is destroyed
  /// first never leaves it waiting on a freed one.
  std::vector<cudaEvent_t> released_;
  uint64_t slotCounter_ = 0;
  kernels::RankSync* sync_ = nullptr;  ///< this rank's, device memory (flag mode)
  std::vector<kernels::RankSync*> peerSync_;
  int* hostFlags_ = nullptr;  ///< [0] abort, [1] failed; host-mapped
  int* deviceFlags_ = nullptr;
  /// Flag-mode kernels of thread ranks must run concurrently, so calls on the legacy
  /// default stream (which serializes everything) are moved onto this one.
  cudaStream_t ownStream_ = nullptr;
  cudaEvent_t handoff_ = nullptr;
  cudaStream_t lastStream_ = nullptr;
  cudaEvent_t lastEvent_ = nullptr;
  void* scratch_ = nullptr;
  size_t scratchBytes_ = 0;
  std::vector<void*> retired_;  ///< outgrown scratch buffers, freed with the engine
  /// Per-call exchange buffers (stream-order mode), sized once.
  struct CollectiveRecord;
  std::vector<CollectiveRecord> records_;
  std::vector<int32_t> slots_;
  cuda_ipc::Exporter exporter_;
  cuda_ipc::Importer importer_;
};

}  // namespace prism::device
