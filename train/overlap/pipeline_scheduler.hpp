/// Pipeline parallelism over Prism's native API: one tick's stage-to-stage transfers as
/// one batch.
#pragma once

#include <cstddef>
#include <vector>

#include "prism/comm.hpp"
#include "train/overlap/overlap_meter.hpp"
#include "train/overlap/tensor.hpp"

namespace prism::overlap {

/// Collects one tick's activation/gradient transfers to the previous and next stage (of
/// any element type; float vectors convert) and posts them as one batch (one Work), so
/// they overlap the next micro-batch's compute. Stage s talks to s-1 and s+1 of `pp`.
class PipelineScheduler {
 public:
  explicit PipelineScheduler(Comm& pp, OverlapMeter* meter = nullptr);
  bool isFirst() const { return stage_ == 0; }
  bool isLast() const { return stage_ == stages_ - 1; }
  /// Throw CommError(ncclInvalidUsage) when the stage has no such neighbour.
  void sendNext(ConstTensorView tensor);
  void recvPrev(TensorView tensor);
  void sendPrev(ConstTensorView tensor);
  void recvNext(TensorView tensor);
  /// Number of transfers collected for this tick.
  size_t pendingCount() const { return ops_.size(); }
  /// Posts the collected transfers as one batch and starts a new tick.
  Work flush();

 private:
  void add(PeerOp::Kind kind, int peer, ConstTensorView tensor);
  Comm& pp_;
  OverlapMeter* meter_;
  int stage_;
  int stages_;
  std::vector<PeerOp> ops_;
};

}  // namespace prism::overlap
