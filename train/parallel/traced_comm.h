/// A communicator that counts what the training driver sends: calls and bytes per
/// collective type. Every launched Work goes to the rank's OverlapMeter, and every wait
/// closes the current compute interval, so the meter can tell how much communication was
/// hidden behind compute (exposed = communication time not covered by compute). When the
/// meter serializes (prism-train --serialize), every launch is waited for at once, outside
/// compute: the baseline in which nothing is hidden. Bytes follow nccl-tests: the per-rank
/// buffer size of the call (allReduce count, allGather/reduceScatter the full buffer,
/// allToAll the full buffer, send and recv their count), in bytes.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "prism/collective.hpp"
#include "prism/comm.hpp"
#include "train/overlap/overlap_meter.hpp"

namespace prism::train {

struct CommStats {
  struct Entry {
    int64_t calls = 0;
    int64_t bytes = 0;
  };
  std::map<std::string, Entry> byType;  ///< "allReduce", "allGather", "reduceScatter", ...
  double exposedSeconds = 0.0;          ///< communication not covered by compute
  double commSeconds = 0.0;             ///< union of the operations' intervals
  /// Share of communication time hidden behind compute, in percent.
  double overlapPercent() const;
  void add(const std::string& type, int64_t bytes);
  void reset() { *this = CommStats{}; }
};

class TracedComm {
 public:
  TracedComm(Comm& comm, CommStats& stats, overlap::OverlapMeter& meter)
      : comm_(&comm), stats_(&stats), meter_(&meter) {}
  int rank() const { return comm_->rank(); }
  int size() const { return comm_->size(); }

  /// In-place float sum.
  Work allReduce(float* data, size_t count, Priority priority = Priority::Normal);
  Work allGather(const float* send, float* recv, size_t perRank,
                 Priority priority = Priority::Normal);
  Work reduceScatter(const float* send, float* recv, size_t perRank,
                     Priority priority = Priority::Normal);
  Work allToAll(const void* send, void* recv, size_t perPeer, ncclDataType_t type,
                Priority priority = Priority::Normal);
  /// Point-to-point ops as one group, counted as "sendRecv" (bytes sent plus received).
  Work batch(std::span<const PeerOp> ops, Priority priority = Priority::Normal);
  /// Counts and meters an operation launched on comm() by someone else (prism's overlap
  /// hooks).
  void recordExternal(const Work& work, Collective collective, const std::string& type,
                      int64_t bytes);
  /// Waits for `work`; the wait is not compute.
  void wait(const Work& work);
  Comm& comm() { return *comm_; }
  overlap::OverlapMeter& meter() { return *meter_; }

 private:
  Work track(Work work, Collective collective);

  Comm* comm_;
  CommStats* stats_;
  overlap::OverlapMeter* meter_;
};

}  // namespace prism::train
