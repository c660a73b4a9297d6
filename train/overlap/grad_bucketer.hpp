/// DDP-style gradient bucketing over Prism's native API, for gradients of any floating
/// element type (bf16 and fp16 as frameworks keep them, or float32).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "prism/comm.hpp"
#include "train/overlap/overlap_meter.hpp"
#include "train/overlap/tensor.hpp"

namespace prism::overlap {

/// Parameters are registered in the order backward produces their gradients (reverse
/// forward order); gradients live in one flat buffer of Options::type elements that the
/// bucketer owns, so launching a bucket copies nothing, and each bucket is reduced with
/// that element type. Buckets are capped in bytes and launch strictly in bucket order.
class GradBucketer {
 public:
  enum class Mode {
    AllReduce,      ///< every rank gets the reduced bucket in place
    ReduceScatter,  ///< ZeRO-2: each rank keeps its shard of each bucket (shard())
    Hook,           ///< Options::hook launches the bucket (compression, custom schemes)
  };
  /// Launches one bucket (a view of Options::type elements) and returns its Work.
  using Hook = std::function<Work(Comm&, TensorView bucket)>;
  struct Options {
    Mode mode = Mode::AllReduce;
    /// The gradients' element type: ncclBfloat16, ncclFloat16, ncclFloat32, ...
    ncclDataType_t type = ncclFloat32;
    bool average = true;                           ///< ncclAvg, else ncclSum
    size_t bucketCapBytes = size_t{25} << 20;      ///< later buckets
    size_t firstBucketCapBytes = size_t{1} << 20;  ///< the first (launched earliest)
    Hook hook;
    /// Called with the bucket index once its reduction is complete (from finalize).
    std::function<void(size_t bucket)> onReduced;
    OverlapMeter* meter = nullptr;
    /// Where the flat gradient buffer (and ZeRO-2's shards) live. With Memory::Device the
    /// gradient views are device memory, written by the caller's kernels (or copyTensor).
    Memory memory = Memory::Host;
  };

  /// Throws CommError(ncclInvalidArgument) for Mode::Hook without a hook, a zero cap or an
  /// unknown element type.
  GradBucketer(Comm& comm, Options options);
  explicit GradBucketer(Comm& comm) : GradBucketer(comm, Options{}) {}

  /// Registers a parameter of `numel` elements; returns its index. Only before the first
  /// call of anything else.
  size_t addParam(size_t numel);
  /// The parameter's gradient, a view into the flat buffer.
  TensorView grad(size_t param);
  TensorView flat();
  size_t bucketCount();
  /// The parameters of a bucket, in registration order.
  const std::vector<size_t>& bucketParams(size_t bucket);
  /// The bucket's part of the flat buffer (ReduceScatter mode: padded to a multiple of
  /// the communicator size with zeros).
  TensorView bucket(size_t bucket);
  /// ReduceScatter mode: this rank's reduced shard of `bucket` (valid after finalize).
  TensorView shard(size_t bucket);

  /// From backward: the parameter's gradient is final. Launches every bucket that is
  /// complete and whose predecessors have launched.
  void markReady(size_t param);
  /// Gradient accumulation: while set, markReady launches nothing and finalize only
  /// resets; gradients keep accumulating in the flat buffer.
  void setNoSync(bool noSync) { noSync_ = noSync; }
  /// Launches what is left (in order), waits for every bucket, runs onReduced per bucket,
  /// and resets the ready state for the next step.
  void finalize();
  void zeroGrads();
  /// Buckets launched in this step, in launch order (for tests and logging).
  const std::vector<size_t>& launchOrder() const { return launched_; }

 private:
  struct Bucket {
    size_t offset = 0;  ///< elements into flat_
    size_t size = 0;    ///< elements, padded
    std::vector<size_t> params;
    size_t ready = 0;
    size_t shardOffset = 0;  ///< elements into shards_
    Work work;
  };
  void layout();
  void launch(size_t bucket);

  Comm& comm_;
  Options options_;
  std::vector<size_t> numel_;
  std::vector<size_t> offset_;    ///< per param, elements into flat_
  std::vector<size_t> bucketOf_;  ///< per param
  std::vector<bool> paramReady_;
  std::vector<Bucket> buckets_;
  Buffer flat_;
  Buffer shards_;
  std::vector<size_t> launched_;
  size_t nextLaunch_ = 0;
  bool laidOut_ = false;
  bool noSync_ = false;
};

}  // namespace prism::overlap
