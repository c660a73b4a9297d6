// Large host collectives that read peers' buffers in place instead of staging every byte
// through the shared-memory FIFOs: threads of one process use plain loads, processes use
// cross-memory attach (process_vm_readv), which moves data straight from the peer's
// address space into ours. Each rank handles one slice (reductions) or its own output
// (data movement), like the CUDA direct kernels. Off unless PRISM_DIRECT_MIN_BYTES is set:
// on the 2-core VMs it lost to the FIFO plans (perf/RESULTS.md). See docs/ARCHITECTURE.md,
// "Direct host path".
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/operation.h"

namespace prism {

class Communicator;
class SetupChannel;

class DirectHost {
 public:
  /// Collective over `setup`: learns where each peer runs and whether this rank may read
  /// its memory; the answer is agreed by all ranks.
  DirectHost(Communicator& comm, SetupChannel& setup);

  /// True when `op` should take this path (a whole-communicator host collective of at
  /// least PRISM_DIRECT_MIN_BYTES that this path implements).
  bool eligible(const Operation& op) const;
  /// Runs `op` to completion. Collective over the communicator.
  void run(const Operation& op);

 private:
  struct Buffers {
    uint64_t in;
    uint64_t out;
    uint64_t scalar;  ///< PreMulSum: the rank's scalar bits (8 bytes, type-sized prefix)
  };

  /// Copies `bytes` from `remote` in peer `q`'s address space to `local`.
  void fetch(int q, void* local, uint64_t remote, size_t bytes);
  void barrier();
  void reduceSlice(const Operation& op, size_t inOffset, size_t outOffset, size_t count,
                   std::byte* out);
  void allReduce(const Operation& op);

  Communicator& comm_;
  int rank_ = 0;
  int size_ = 1;
  bool usable_ = false;
  size_t minBytes_ = 0;
  std::vector<pid_t> pids_;
  std::vector<bool> sameProcess_;
  std::vector<Buffers> peers_;    ///< this call's buffers of every rank
  std::vector<std::byte> chunk_;  ///< running reduction of one chunk
  std::vector<std::byte> fetched_;
  std::vector<uint8_t> votes_;              ///< barrier scratch, one byte per rank
  uint64_t probe_ = 0x7072697300000000ull;  ///< a word peers read to test access
};

}  // namespace prism
