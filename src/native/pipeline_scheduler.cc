// PipelineScheduler: one tick's stage-to-stage transfers as one batch.
#include <prism/overlap.hpp>
#include <string>

namespace prism {

PipelineScheduler::PipelineScheduler(Comm& pp, OverlapMeter* meter)
    : pp_(pp), meter_(meter), stage_(pp.rank()), stages_(pp.size()) {}

void PipelineScheduler::add(PeerOp::Kind kind, int peer, const float* data, size_t count) {
  if (peer < 0 || peer >= stages_)
    throw CommError(ncclInvalidUsage, "PipelineScheduler: stage " + std::to_string(stage_) +
                                          " has no stage " + std::to_string(peer));
  ops_.push_back({kind, peer, const_cast<float*>(data), count, ncclFloat32});
}

void PipelineScheduler::sendNext(std::span<const float> t) {
  add(PeerOp::Kind::Send, stage_ + 1, t.data(), t.size());
}
void PipelineScheduler::recvPrev(std::span<float> t) {
  add(PeerOp::Kind::Recv, stage_ - 1, t.data(), t.size());
}
void PipelineScheduler::sendPrev(std::span<const float> t) {
  add(PeerOp::Kind::Send, stage_ - 1, t.data(), t.size());
}
void PipelineScheduler::recvNext(std::span<float> t) {
  add(PeerOp::Kind::Recv, stage_ + 1, t.data(), t.size());
}

Work PipelineScheduler::flush() {
  if (ops_.empty()) return Work();
  Work work = pp_.batch(ops_);
  ops_.clear();
  if (meter_) meter_->record(work, CommKind::SendRecv, stages_);
  return work;
}

}  // namespace prism
