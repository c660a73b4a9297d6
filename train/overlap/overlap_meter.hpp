/// How much communication a training step hid behind compute: interval arithmetic over
/// one step's communication and compute, and the meter that collects them from Work
/// handles and reports per-collective bytes and bus bandwidth as nccl-tests does.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "prism/collective.hpp"
#include "prism/comm.hpp"

namespace prism::overlap {

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

/// Records communication (from Work handles) and compute (marked by the caller) of one
/// step and reports how much of the communication was hidden. Each communication is a
/// prism::Collective, or std::nullopt for a scheme of the caller's own (a bucketer hook):
/// reported as "custom", with bus-bandwidth factor 1. Not thread-safe.
class OverlapMeter {
 public:
  struct Report {
    double commSeconds = 0;               ///< length of the union of communication intervals
    double exposedSeconds = 0;            ///< communication not covered by compute
    double overlapPercent = 0;            ///< 100 * (comm - exposed) / comm; 0 without comm
    std::map<std::string, size_t> bytes;  ///< per collectiveName ("AllReduce", ...), "custom"
    /// Per name: sum(bytes * busBandwidthFactor) / sum(durations), in GB/s.
    std::map<std::string, double> busBwGBs;
  };

  /// Remembers `work` (read when the step ends) as one `collective` over `nranks`.
  void record(const Work& work, std::optional<Collective> collective, int nranks);
  /// Adds a finished communication interval directly (for tests and foreign sources).
  void recordInterval(Interval interval, std::optional<Collective> collective, int nranks,
                      size_t bytes);
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
    std::optional<Collective> collective;
    int nranks;
    size_t bytes;
  };
  struct Pending {
    Work work;
    std::optional<Collective> collective;
    int nranks;
  };
  Work::Clock::time_point origin_ = Work::Clock::now();
  std::vector<Pending> pending_;
  std::vector<CommRecord> comms_;
  std::vector<Interval> compute_;
  double computeBegin_ = -1;
  bool serialize_ = false;
};

}  // namespace prism::overlap
