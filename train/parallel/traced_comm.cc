#include "train/parallel/traced_comm.h"

#include <algorithm>

namespace prism::train {
namespace {
size_t typeSize(ncclDataType_t type) {
  switch (type) {
    case ncclInt8:
    case ncclUint8:
      return 1;
    case ncclFloat16:
    case ncclBfloat16:
      return 2;
    case ncclInt64:
    case ncclUint64:
    case ncclFloat64:
      return 8;
    default:
      return 4;
  }
}
}  // namespace

double CommStats::overlapPercent() const {
  if (commSeconds <= 0.0) return 0.0;
  return 100.0 * std::clamp(1.0 - exposedSeconds / commSeconds, 0.0, 1.0);
}

void CommStats::add(const std::string& type, int64_t bytes) {
  Entry& e = byType[type];
  ++e.calls;
  e.bytes += bytes;
}

Work TracedComm::allReduce(float* data, size_t count, Priority priority) {
  stats_->add("allReduce", static_cast<int64_t>(count * sizeof(float)));
  return track(comm_->allReduce(data, data, count, ncclFloat32, ncclSum, priority),
               Collective::AllReduce);
}

Work TracedComm::allGather(const float* send, float* recv, size_t perRank, Priority priority) {
  stats_->add("allGather", static_cast<int64_t>(perRank * size() * sizeof(float)));
  return track(comm_->allGather(send, recv, perRank, ncclFloat32, priority), Collective::AllGather);
}

Work TracedComm::reduceScatter(const float* send, float* recv, size_t perRank, Priority priority) {
  stats_->add("reduceScatter", static_cast<int64_t>(perRank * size() * sizeof(float)));
  return track(comm_->reduceScatter(send, recv, perRank, ncclFloat32, ncclSum, priority),
               Collective::ReduceScatter);
}

Work TracedComm::allToAll(const void* send, void* recv, size_t perPeer, ncclDataType_t type,
                          Priority priority) {
  stats_->add("allToAll", static_cast<int64_t>(perPeer * size() * typeSize(type)));
  return track(comm_->allToAll(send, recv, perPeer, type, priority), Collective::AllToAll);
}

Work TracedComm::batch(std::span<const PeerOp> ops, Priority priority) {
  int64_t bytes = 0;
  for (const PeerOp& op : ops) bytes += static_cast<int64_t>(op.count * typeSize(op.type));
  stats_->add("sendRecv", bytes);
  return track(comm_->batch(ops, priority), Collective::SendRecv);
}

Work TracedComm::track(Work work, Collective collective) {
  // Serialized (the A/B baseline): wait at once, and the wait is not compute, so all of
  // this operation is exposed.
  if (meter_->serialize()) wait(work);
  meter_->record(work, collective, size());
  return work;
}

void TracedComm::recordExternal(const Work& work, Collective collective, const std::string& type,
                                int64_t bytes) {
  stats_->add(type, bytes);
  track(work, collective);
}

void TracedComm::wait(const Work& work) {
  meter_->endCompute();
  work.wait();
  meter_->beginCompute();
}

}  // namespace prism::train
