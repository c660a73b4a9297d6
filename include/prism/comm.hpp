/// Prism's native C++ API: communicators whose every collective and point-to-point call
/// returns at once with a work handle, so a training loop can keep computing and wait only
/// when it needs the result. It runs on the same core as the NCCL C API.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "nccl.h"

namespace prism {

/// Thrown by the native API: the NCCL code and a one-line reason.
class CommError : public std::runtime_error {
 public:
  CommError(ncclResult_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ncclResult_t code() const { return code_; }

 private:
  ncclResult_t code_;
};

/// Where an operation may overtake others that share resources with it (the progress
/// engine, the cores). Latency-critical traffic (tensor-parallel activations) uses High;
/// bulk traffic (gradients) uses Normal. Order within one communicator never changes.
enum class Priority : uint8_t { Normal, High };

/// The handle of one launched operation (or of one batch of point-to-point operations).
/// Copyable; all copies refer to the same operation. A default-constructed Work is
/// complete and moved no bytes.
class Work {
 public:
  using Clock = std::chrono::steady_clock;
  Work();
  /// True when the operation has finished. Never blocks. Throws CommError if it failed.
  bool test() const;
  /// Waits up to `timeout` for completion; true if complete, false if the time ran out.
  /// Throws CommError if the operation failed.
  bool wait(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) const;
  /// Orders `stream` (a cudaStream_t) after the operation: for device work, without
  /// blocking the host; for host work, by waiting on the host first.
  void waitOn(void* stream) const;
  /// When the operation started moving data and when it completed (both valid after
  /// completion).
  Clock::time_point startTime() const;
  Clock::time_point endTime() const;
  /// Bytes this rank sent plus received for the operation, as the benchmark's busbw
  /// formula counts them: the per-rank buffer size of the collective.
  size_t bytes() const;

  struct State;
  explicit Work(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

/// One element of a point-to-point batch.
struct PeerOp {
  enum class Kind : uint8_t { Send, Recv } kind = Kind::Send;
  int peer = 0;
  void* buffer = nullptr;  ///< read for Send, written for Recv
  size_t count = 0;
  ncclDataType_t type = ncclFloat32;
};

/// Rank, size and rendezvous as a launcher set them (prism-run, mpirun, srun, torchrun).
struct LaunchInfo {
  int rank = 0;
  int size = 1;
  int localRank = 0;
  int localSize = 1;
  /// "host:port" every rank can reach; rank 0 serves it.
  std::string rendezvous;
  /// Which variables were found ("prism-run", "openmpi", "pmi", "slurm", "torchrun").
  std::string source;
};

/// Reads the launcher's variables. Throws CommError(ncclInvalidUsage) naming what is
/// missing when no launcher is recognized.
LaunchInfo launchInfoFromEnvironment();

/// A communicator. Calls validate their arguments (throwing CommError at once) and return
/// a Work; one progress thread per process runs the operations. Operations on one
/// communicator complete in the order they were issued, as NCCL's ordering contract says;
/// different communicators progress concurrently. Every rank must issue the same
/// collectives in the same order. Buffers must stay valid until the Work completes. Use a
/// Comm from one thread at a time. Movable, not copyable; the destructor waits for queued
/// operations (each bounded by PRISM_TIMEOUT_S).
class Comm {
 public:
  /// Joins the communicator of `nranks` ranks that `id` names (ncclCommInitRank).
  static Comm fromUniqueId(const ncclUniqueId& id, int nranks, int rank);
  /// Joins the world communicator the launcher describes (launchInfoFromEnvironment()).
  static Comm fromEnvironment();
  /// Takes ownership of an existing NCCL communicator.
  static Comm adopt(ncclComm_t comm);

  /// An empty communicator (what split returns for NCCL_SPLIT_NOCOLOR). Every call on it
  /// throws CommError(ncclInvalidUsage); valid() is false.
  Comm();
  Comm(Comm&&) noexcept;
  Comm& operator=(Comm&&) noexcept;
  ~Comm();

  /// False for an empty Comm.
  bool valid() const { return impl_ != nullptr; }
  int rank() const;
  int size() const;
  /// The C handle, for code that mixes both APIs. Still owned by this Comm. Call
  /// synchronize() before using it: queued native operations are driven by Prism's
  /// progress thread, and the C API must not run on the communicator meanwhile.
  ncclComm_t handle() const;

  /// ncclCommSplit; collective over all ranks of this communicator.
  Comm split(int color, int key) const;

  Work allReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                 Priority priority = Priority::Normal);
  Work broadcast(const void* send, void* recv, size_t count, ncclDataType_t type, int root,
                 Priority priority = Priority::Normal);
  Work reduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
              int root, Priority priority = Priority::Normal);
  /// `count` is each rank's share, as in ncclAllGather.
  Work allGather(const void* send, void* recv, size_t count, ncclDataType_t type,
                 Priority priority = Priority::Normal);
  /// `count` is each rank's share of the result, as in ncclReduceScatter.
  Work reduceScatter(const void* send, void* recv, size_t count, ncclDataType_t type,
                     ncclRedOp_t op, Priority priority = Priority::Normal);
  /// `count` elements go to each peer, as in ncclAlltoAll.
  Work allToAll(const void* send, void* recv, size_t count, ncclDataType_t type,
                Priority priority = Priority::Normal);
  Work send(const void* buffer, size_t count, ncclDataType_t type, int peer,
            Priority priority = Priority::Normal);
  Work recv(void* buffer, size_t count, ncclDataType_t type, int peer,
            Priority priority = Priority::Normal);
  /// All of `ops` issued as one group; one handle for the batch.
  Work batch(std::span<const PeerOp> ops, Priority priority = Priority::Normal);

  /// Waits for every operation launched on this communicator so far. Throws CommError if
  /// one of them failed.
  void synchronize();
  /// Stops the communicator (ncclCommRevoke): operations in flight or queued fail with
  /// CommError at their next poll, and later calls throw. Any thread may call it; the Comm
  /// must still be destroyed. Use it, not ncclCommAbort(handle()), which would free the
  /// communicator under the Comm.
  void abort();

  struct Impl;

 private:
  explicit Comm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The degrees of an N-D device mesh. Their product must equal the world size.
struct MeshShape {
  int dp = 1;  ///< data parallel (ZeRO/FSDP shards along it)
  int tp = 1;  ///< tensor parallel (sequence parallel shares it)
  int pp = 1;  ///< pipeline stages
  int cp = 1;  ///< context parallel
  int ep = 1;  ///< expert parallel (a sub-division of dp, as in Megatron-MoE)
};

/// The sub-communicators of a mesh. Ranks are laid out with tp fastest, then cp, then dp,
/// then pp (Megatron's order): rank = ((pp*dp + d)*cp + c)*tp + t. Expert parallel groups
/// take ep consecutive members of each dp group.
class DeviceMesh {
 public:
  /// Collective over `world`. Throws CommError(ncclInvalidArgument) naming the constraint
  /// when the degrees do not multiply to world.size() or ep does not divide dp.
  DeviceMesh(Comm& world, MeshShape shape);

  const MeshShape& shape() const { return shape_; }
  int dpRank() const { return dpRank_; }
  int tpRank() const { return tpRank_; }
  int ppRank() const { return ppRank_; }
  int cpRank() const { return cpRank_; }
  int epRank() const { return epRank_; }
  Comm& dp() { return dp_; }
  Comm& tp() { return tp_; }
  Comm& pp() { return pp_; }
  Comm& cp() { return cp_; }
  Comm& ep() { return ep_; }

 private:
  MeshShape shape_;
  int dpRank_ = 0, tpRank_ = 0, ppRank_ = 0, cpRank_ = 0, epRank_ = 0;
  Comm dp_, tp_, pp_, cp_, ep_;
};

}  // namespace prism
