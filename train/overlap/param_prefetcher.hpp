/// FSDP-style parameter prefetching over Prism's native API, for parameters of any element
/// type (bf16, fp16, float32, ...).
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "prism/comm.hpp"
#include "train/overlap/overlap_meter.hpp"
#include "train/overlap/tensor.hpp"

namespace prism::overlap {

/// Each unit is a flat shard of Options::type elements per rank; unshard all-gathers the
/// full parameters, reshard releases them. At most maxInFlight all-gathers run at once (an
/// older one is waited for first). The storage of released parameters is kept in a pool
/// and reused by the next unshard, so after the first step nothing is allocated (as
/// PyTorch's caching allocator keeps FSDP's unsharded storage); the pool holds as many
/// buffers as were ever gathered at once.
class ParamPrefetcher {
 public:
  struct Options {
    int maxInFlight = 2;
    /// The element type of shards, parameters and gradients.
    ncclDataType_t type = ncclFloat32;
    OverlapMeter* meter = nullptr;
    /// Where shards, gathered parameters and gradients live (see GradBucketer::Options).
    Memory memory = Memory::Host;
  };
  /// Throws CommError(ncclInvalidArgument) for maxInFlight < 1 or an unknown type.
  ParamPrefetcher(Comm& comm, Options options);
  explicit ParamPrefetcher(Comm& comm) : ParamPrefetcher(comm, Options{}) {}

  /// Adds a unit with `shardNumel` elements per rank; returns its index.
  size_t addUnit(size_t shardNumel);
  size_t unitCount() const { return units_.size(); }
  TensorView shard(size_t unit);
  /// The gathered parameters (shardNumel * size elements); valid once unshard's Work is
  /// done. Empty while the unit is not gathered.
  TensorView full(size_t unit);
  /// The unit's full-size gradient, filled by backward.
  TensorView grad(size_t unit);
  /// This rank's reduced gradient shard (valid once reduceGrad's Work is done).
  TensorView gradShard(size_t unit);

  /// Launches the all-gather of `unit` (the returned Work; the in-flight one when already
  /// launched; a complete Work when already gathered).
  Work unshard(size_t unit);
  /// Frees the gathered parameters (waits for an in-flight gather first).
  void reshard(size_t unit);
  bool gathered(size_t unit) const { return units_.at(unit).gathered; }
  /// Unshards the next `depth` units after `unit` in forward order / before it in
  /// backward order.
  void prefetchForward(size_t unit, int depth = 1);
  void prefetchBackward(size_t unit, int depth = 1);
  /// Reduce-scatters the unit's gradient into gradShard. The next unit of backward is
  /// prefetched first, so its all-gather is not queued behind this reduce-scatter.
  Work reduceGrad(size_t unit, bool average = true);
  /// All-gathers launched and not yet seen complete; the most ever observed.
  int inFlight();
  int maxInFlightSeen() const { return maxSeen_; }
  /// Waits for everything launched.
  void finalize();

 private:
  struct Unit {
    size_t shardNumel = 0;
    Buffer shard, full, grad, gradShard;
    bool gathered = false;
    Work gather;
    Work reduce;
  };
  Comm& comm_;
  Options options_;
  std::vector<Unit> units_;
  std::deque<size_t> gathering_;  ///< units whose gather may still run, oldest first
  std::vector<Buffer> pool_;      ///< released full-parameter storage, each maxFull_ elements
  size_t maxFull_ = 0;
  int maxSeen_ = 0;
};

}  // namespace prism::overlap
