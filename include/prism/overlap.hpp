/// Overlap hooks for training loops, built only on prism::Comm and Work handles:
/// gradient bucketing (DDP / ZeRO-2), parameter prefetching (FSDP), pipeline tick batching,
/// and a meter that says how much communication the compute actually hid.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <prism/comm.hpp>
#include <span>
#include <string>
#include <vector>

namespace prism {

/// A closed-open time interval [begin, end) in seconds from any fixed origin.
struct Interval {
  double begin = 0;
  double end = 0;
};

/// Sorted, disjoint intervals covering exactly the union of `intervals` (empty ones
/// dropped; touching ones merged).
std::vector<Interval> intervalUnion(std::span<const Interval> intervals);
/// Length of the union of `intervals`.
double unionLength(std::span<const Interval> intervals);
/// Length of (union of a) ∩ (union of b).
double intersectionLength(std::span<const Interval> a, std::span<const Interval> b);
/// Time in the union of `comm` not covered by any interval of `compute`: the
/// communication a step actually waited for.
double exposedLength(std::span<const Interval> comm, std::span<const Interval> compute);

/// What a communication interval was, for per-type bytes and bus bandwidth.
enum class CommKind : uint8_t {
  AllReduce,
  AllGather,
  ReduceScatter,
  AllToAll,
  Broadcast,
  Reduce,
  SendRecv,
  Custom
};
const char* commKindName(CommKind kind);
/// nccl-tests' busbw factor: allreduce 2(n-1)/n; allgather, reduce-scatter, alltoall
/// (n-1)/n; the rest 1.
double busBandwidthFactor(CommKind kind, int nranks);

/// Records communication (from Work handles) and compute (marked by the caller) of one
/// step and reports how much of the communication was hidden. Not thread-safe.
class OverlapMeter {
 public:
  struct Report {
    double commSeconds = 0;                  ///< length of the union of communication intervals
    double exposedSeconds = 0;               ///< communication not covered by compute
    double overlapPercent = 0;               ///< 100 * (comm - exposed) / comm; 0 without comm
    std::map<std::string, size_t> bytes;     ///< per collective type
    std::map<std::string, double> busBwGBs;  ///< per type: sum(bytes*factor) / sum(durations)
  };

  /// Remembers `work` (read when the step ends) as one `kind` operation over `nranks`.
  void record(const Work& work, CommKind kind, int nranks);
  /// Adds a finished communication interval directly (for tests and foreign sources).
  void recordInterval(Interval interval, CommKind kind, int nranks, size_t bytes);
  void beginCompute();
  void endCompute();
  void addCompute(Interval interval);
  /// Marks compute for its lifetime.
  class ComputeScope {
   public:
    explicit ComputeScope(OverlapMeter& meter) : meter_(meter) { meter_.beginCompute(); }
    ~ComputeScope() { meter_.endCompute(); }
    ComputeScope(const ComputeScope&) = delete;
    ComputeScope& operator=(const ComputeScope&) = delete;

   private:
    OverlapMeter& meter_;
  };
  ComputeScope compute() { return ComputeScope(*this); }

  /// A/B switch: hooks given this meter wait right after each launch when set.
  void setSerialize(bool serialize) { serialize_ = serialize; }
  bool serialize() const { return serialize_; }

  /// Waits for the recorded Works, computes the report and starts a new step.
  Report endStep();
  /// Seconds since the meter's origin for `t`.
  double seconds(Work::Clock::time_point t) const;

 private:
  struct CommRecord {
    Interval interval;
    CommKind kind;
    int nranks;
    size_t bytes;
  };
  struct Pending {
    Work work;
    CommKind kind;
    int nranks;
  };
  Work::Clock::time_point origin_ = Work::Clock::now();
  std::vector<Pending> pending_;
  std::vector<CommRecord> comms_;
  std::vector<Interval> compute_;
  double computeBegin_ = -1;
  bool serialize_ = false;
};

/// Where the overlap hooks keep their buffers.
enum class Memory : uint8_t {
  Host,    ///< host memory
  Device,  ///< CUDA device memory of the current device (CommError without a GPU)
};

/// A fixed-size, zero-initialized array of floats in host or device memory, allocated
/// once. Spans over device memory must only be handed to Prism or to CUDA, never read on
/// the host; copyFloats moves data between the two sides. Movable, not copyable.
class FloatBuffer {
 public:
  FloatBuffer() = default;
  FloatBuffer(size_t count, Memory memory);
  FloatBuffer(FloatBuffer&& other) noexcept;
  FloatBuffer& operator=(FloatBuffer&& other) noexcept;
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;
  ~FloatBuffer();

  float* data() { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Memory memory() const { return memory_; }
  std::span<float> span() { return {data_, size_}; }
  /// Sets every element to +0.0f.
  void zero();

 private:
  float* data_ = nullptr;
  size_t size_ = 0;
  Memory memory_ = Memory::Host;
};

/// Copies `src` into `dst` (same size), each on either side, and returns when the data
/// has arrived. Throws CommError(ncclInvalidArgument) on a size mismatch and
/// CommError(ncclUnhandledCudaError) when CUDA fails.
void copyFloats(std::span<float> dst, std::span<const float> src);

/// DDP-style gradient bucketing. Parameters are registered in the order backward produces
/// their gradients (reverse forward order); gradients live in one flat buffer the bucketer
/// owns, so launching a bucket copies nothing. Buckets launch strictly in bucket order.
class GradBucketer {
 public:
  enum class Mode {
    AllReduce,      ///< every rank gets the reduced bucket in place
    ReduceScatter,  ///< ZeRO-2: each rank keeps its shard of each bucket (shard())
    Hook,           ///< Options::hook launches the bucket (compression, custom schemes)
  };
  using Hook = std::function<Work(Comm&, std::span<float> bucket)>;
  struct Options {
    Mode mode = Mode::AllReduce;
    bool average = true;                           ///< ncclAvg, else ncclSum
    size_t bucketCapBytes = size_t{25} << 20;      ///< later buckets
    size_t firstBucketCapBytes = size_t{1} << 20;  ///< the first (launched earliest)
    Hook hook;
    /// Called with the bucket index once its reduction is complete (from finalize).
    std::function<void(size_t bucket)> onReduced;
    OverlapMeter* meter = nullptr;
    /// Where the flat gradient buffer (and ZeRO-2's shards) live. With Memory::Device the
    /// gradient views are device memory, written by the caller's kernels (or copyFloats).
    Memory memory = Memory::Host;
  };

  GradBucketer(Comm& comm, Options options);
  explicit GradBucketer(Comm& comm) : GradBucketer(comm, Options{}) {}

  /// Registers a parameter of `numel` floats; returns its index. Only before the first
  /// call of anything else.
  size_t addParam(size_t numel);
  /// The parameter's gradient, a view into the flat buffer.
  std::span<float> grad(size_t param);
  std::span<float> flat();
  size_t bucketCount();
  /// The parameters of a bucket, in registration order.
  const std::vector<size_t>& bucketParams(size_t bucket);
  /// The bucket's part of the flat buffer (ReduceScatter mode: padded to a multiple of
  /// the communicator size with zeros).
  std::span<float> bucket(size_t bucket);
  /// ReduceScatter mode: this rank's reduced shard of `bucket` (valid after finalize).
  std::span<float> shard(size_t bucket);

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
    size_t offset = 0;  ///< into flat_
    size_t size = 0;    ///< elements, padded
    std::vector<size_t> params;
    size_t ready = 0;
    size_t shardOffset = 0;  ///< into shards_
    Work work;
  };
  void layout();
  void launch(size_t bucket);

  Comm& comm_;
  Options options_;
  std::vector<size_t> numel_;
  std::vector<size_t> offset_;    ///< per param, into flat_
  std::vector<size_t> bucketOf_;  ///< per param
  std::vector<bool> paramReady_;
  std::vector<Bucket> buckets_;
  FloatBuffer flat_;
  FloatBuffer shards_;
  std::vector<size_t> launched_;
  size_t nextLaunch_ = 0;
  bool laidOut_ = false;
  bool noSync_ = false;
};

/// FSDP-style parameter prefetching. Each unit is a flat float shard per rank; unshard
/// all-gathers the full parameters, reshard releases them. At most maxInFlight all-gathers
/// run at once (an older one is waited for first). The storage of released parameters is
/// kept in a pool and reused by the next unshard, so after the first step nothing is
/// allocated (as PyTorch's caching allocator keeps FSDP's unsharded storage); the pool
/// holds as many buffers as were ever gathered at once.
class ParamPrefetcher {
 public:
  struct Options {
    int maxInFlight = 2;
    OverlapMeter* meter = nullptr;
    /// Where shards, gathered parameters and gradients live (see GradBucketer::Options).
    Memory memory = Memory::Host;
  };
  ParamPrefetcher(Comm& comm, Options options);
  explicit ParamPrefetcher(Comm& comm) : ParamPrefetcher(comm, Options{}) {}

  /// Adds a unit with `shardNumel` floats per rank; returns its index.
  size_t addUnit(size_t shardNumel);
  size_t unitCount() const { return units_.size(); }
  std::span<float> shard(size_t unit);
  /// The gathered parameters (shardNumel * size floats); valid once unshard's Work is done.
  /// Empty while the unit is not gathered.
  std::span<float> full(size_t unit);
  /// The unit's full-size gradient, filled by backward.
  std::span<float> grad(size_t unit);
  /// This rank's reduced gradient shard (valid once reduceGrad's Work is done).
  std::span<float> gradShard(size_t unit);

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
    FloatBuffer shard, full, grad, gradShard;
    bool gathered = false;
    Work gather;
    Work reduce;
  };
  Comm& comm_;
  Options options_;
  std::vector<Unit> units_;
  std::deque<size_t> gathering_;   ///< units whose gather may still run, oldest first
  std::vector<FloatBuffer> pool_;  ///< released full-parameter storage, each maxFull_ floats
  size_t maxFull_ = 0;
  int maxSeen_ = 0;
};

/// Pipeline parallelism: collects one tick's activation/gradient transfers to the previous
/// and next stage and posts them as one batch (one Work), so they overlap the next
/// micro-batch's compute. Stage s talks to s-1 and s+1 of `pp`.
class PipelineScheduler {
 public:
  explicit PipelineScheduler(Comm& pp, OverlapMeter* meter = nullptr);
  bool isFirst() const { return stage_ == 0; }
  bool isLast() const { return stage_ == stages_ - 1; }
  void sendNext(std::span<const float> tensor);
  void recvPrev(std::span<float> tensor);
  void sendPrev(std::span<const float> tensor);
  void recvNext(std::span<float> tensor);
  /// Number of transfers collected for this tick.
  size_t pendingCount() const { return ops_.size(); }
  /// Posts the collected transfers as one batch and starts a new tick.
  Work flush();

 private:
  void add(PeerOp::Kind kind, int peer, const float* data, size_t count);
  Comm& pp_;
  OverlapMeter* meter_;
  int stage_;
  int stages_;
  std::vector<PeerOp> ops_;
};

}  // namespace prism
