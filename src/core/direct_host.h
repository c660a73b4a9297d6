// Host collectives that work on peers' buffers in place instead of staging every byte
// through the shared-memory FIFOs. Each rank handles one slice (reductions) or its own
// output (data movement), like the CUDA direct kernels. Threads of one process read peers'
// inputs with plain loads, reduce a chunk at a time into a cache-resident scratch and
// write it to every rank's output with streaming stores (read 2S, write 2S for a 2-rank
// allreduce: the minimum), and synchronize through each other's mailboxes. Processes map
// each other's ncclMemAlloc buffers (and registered shared memory) and work on them the
// same way, reach other buffers by cross-memory attach (process_vm_readv), and synchronize
// through small allgathers. PRISM_DIRECT_MIN_BYTES picks the calls; by default threads of
// one process and mappable buffers take the path (perf/RESULTS.md). See docs/ARCHITECTURE.md,
// "Direct host path".
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "src/core/op_tag.h"
#include "src/core/operation.h"
#include "src/core/shared_host_memory.h"

namespace prism {

class PathContext;
class SetupChannel;

class DirectHost {
 public:
  /// Collective over `setup`: learns where each peer runs and whether this rank may read
  /// its memory; the answer is agreed by all ranks.
  DirectHost(PathContext& comm, SetupChannel& setup);
  ~DirectHost();

  /// True when `op` should take this path (a whole-communicator host collective of at
  /// least the PRISM_DIRECT_MIN_BYTES threshold that this path implements).
  bool eligible(const Operation& op) const;
  /// Runs `op` to completion. Collective over the communicator.
  void run(const Operation& op);

 private:
  /// Where a peer in another process can map one buffer from (id 0: not mappable).
  struct Share {
    int64_t fd = -1;
    uint64_t id = 0;
    uint64_t offset = 0;
    uint64_t bytes = 0;
    uint64_t fileOffset = 0;
  };
  /// What every rank posts for a call. The fingerprint gives the extent of the buffers
  /// (count and type): a rank touches a peer's memory only after every rank's matched.
  struct Buffers {
    OpFingerprint fingerprint;
    uint64_t in;
    uint64_t out;
    uint64_t scalar;  ///< PreMulSum: the rank's scalar bits (8 bytes, type-sized prefix)
    Share inShare;
    Share outShare;
  };
  /// A peer's shareable allocation mapped into this process, kept for later calls.
  struct Mapping {
    int rank;
    uint64_t id;
    std::byte* base;
    size_t bytes;
  };
  /// What a rank shows the ranks of its own process: the current call's buffers and how
  /// many synchronization points it has reached. Shared-owned, so a peer still polling it
  /// after this rank's communicator is destroyed reads valid memory.
  struct alignas(64) Mailbox : std::enable_shared_from_this<Mailbox> {
    std::atomic<uint64_t> reached{0};
    Buffers buffers{};
  };

  /// Copies `bytes` from `remote` in peer `q`'s address space to `local`; with `stream`,
  /// same-process copies use streaming stores.
  void fetch(int q, void* local, uint64_t remote, size_t bytes, bool stream);
  /// Returns once every rank has called it as often as this rank: by the peers' mailboxes
  /// when all ranks are threads of this process, else by an allgather of `mask` (one bit
  /// per rank, into masks_).
  void barrier(const Operation& op, const std::vector<uint8_t>& mask = {});
  /// Waits until rank q's mailbox has reached `count`; throws after PRISM_TIMEOUT_S, or
  /// at once if q runs an operation on the FIFOs instead (a mismatch).
  void waitFor(const Operation& op, int q, uint64_t count);
  /// Publishes this call's buffers and learns every rank's (peers_); a barrier. Throws
  /// ncclInvalidUsage on every rank, naming both operations, if any two ranks' fingerprints
  /// differ.
  void exchangeBuffers(const Operation& op, const Buffers& mine);
  /// `bytes` of rank q's input at `offset`, readable here (in place, or fetched_), with
  /// PreMulSum's scalar applied.
  const std::byte* input(const Operation& op, int q, size_t offset, size_t bytes);
  /// Reduces elements [inOffset, inOffset + count) of every rank's input chunk by chunk and
  /// writes each reduced chunk to every pointer in `targets` (element 0 of the slice).
  /// Maps rank q's buffers into this process where both are shareable, rewriting peers_[q]
  /// to local addresses; false if they are not.
  bool mapPeer(int q);
  /// Where a peer can map `bytes` at `p` from, if ncclMemAlloc handed that memory out or
  /// it was registered from a shared mapping (shared_host_memory.h).
  static Share share(const void* p, size_t bytes);
  std::byte* mapped(int q, const Share& share);
  void reduceSlice(const Operation& op, size_t inOffset, size_t count,
                   std::span<std::byte* const> targets, bool stream);
  void allReduce(const Operation& op);

  PathContext& comm_;
  int rank_ = 0;
  int size_ = 1;
  bool usable_ = false;
  bool oneProcess_ = false;  ///< every rank is a thread of this process
  bool mappedOnly_ = false;  ///< automatic between processes: only mappable buffers
  size_t minBytes_ = 0;
  std::vector<pid_t> pids_;
  std::vector<bool> sameProcess_;
  std::vector<bool> local_;       ///< this call: rank q's buffers are addressable here
  std::vector<Buffers> peers_;    ///< this call's buffers of every rank
  std::vector<std::byte> chunk_;  ///< running reduction of one chunk
  std::vector<std::byte> fetched_;
  std::vector<std::byte*> targets_;  ///< outputs this rank writes its reduced slice to
  OpFingerprint fingerprint_;        ///< the current call's
  std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>();
  std::vector<std::shared_ptr<const Mailbox>> mailboxes_;  ///< every rank's, if oneProcess_
  std::vector<uint8_t> mask_;   ///< this rank's barrier mask (one bit per rank)
  std::vector<uint8_t> masks_;  ///< every rank's barrier mask
  std::vector<Mapping> mappings_;
  uint64_t probe_ = 0x7072697300000000ull;  ///< a word peers read to test access
};

}  // namespace prism
