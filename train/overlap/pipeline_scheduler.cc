// PipelineScheduler: one tick's stage-to-stage transfers as one batch.
#include "train/overlap/pipeline_scheduler.hpp"

#include <string>

namespace prism::overlap {

PipelineScheduler::PipelineScheduler(Comm& pp, OverlapMeter* meter)
    : pp_(pp), meter_(meter), stage_(pp.rank()), stages_(pp.size()) {}

void PipelineScheduler::add(PeerOp::Kind kind, int peer, ConstTensorView t) {
  if (peer < 0 || peer >= stages_)
    throw CommError(ncclInvalidUsage, "PipelineScheduler: stage " + std::to_string(stage_) +
                                          " has no stage " + std::to_string(peer));
  // PeerOp has one pointer for both directions; a Send only reads it.
  ops_.push_back({kind, peer, const_cast<void*>(t.data()), t.count(), t.type()});
}

void PipelineScheduler::sendNext(ConstTensorView t) { add(PeerOp::Kind::Send, stage_ + 1, t); }
void PipelineScheduler::recvPrev(TensorView t) { add(PeerOp::Kind::Recv, stage_ - 1, t); }
void PipelineScheduler::sendPrev(ConstTensorView t) { add(PeerOp::Kind::Send, stage_ - 1, t); }
void PipelineScheduler::recvNext(TensorView t) { add(PeerOp::Kind::Recv, stage_ + 1, t); }

Work PipelineScheduler::flush() {
  if (ops_.empty()) return Work();
  Work work = pp_.batch(ops_);
  ops_.clear();
  if (meter_) meter_->record(work, Collective::SendRecv, stages_);
  return work;
}

}  // namespace prism::overlap
