// The simulator: runs a schedule's steps as a dataflow over a FabricModel and predicts how
// long it takes. The selector, ncclGroupSimulateEnd and prism-bench's simulator all use it,
// so no schedule logic is written twice.
#pragma once

#include <string>
#include <vector>

#include "algorithms/fabric.h"
#include "algorithms/schedule.h"

namespace prism {

struct Prediction {
  /// latencyMicros + bandwidthMicros + reduceMicros; infinity if the schedule is stuck.
  double micros = 0;
  /// The longest dependency chain: per step its software cost, per message its links'
  /// latency.
  double latencyMicros = 0;
  /// The busiest link: every byte crossing it over its speed. Pipelining keeps links busy
  /// concurrently, so only the busiest one counts; links shared by several ranks (a host's
  /// uplink) add up their traffic, which is how contention enters.
  double bandwidthMicros = 0;
  /// The busiest reducer's combined bytes over the host's reduction speed.
  double reduceMicros = 0;
  std::string bottleneck;  ///< name of the busiest link
  /// Communication steps on the longest chain (each step counts 1).
  double criticalSteps = 0;
  /// Per rank: bytes sent, received, copied locally and reduced.
  std::vector<double> sent, received, copied, reduced;
  bool completes = true;
};

/// Walks `schedule` with every block `blockBytes` long. A step that receives starts when
/// the rank is free and the message has arrived; a send part leaves when the step starts
/// (SendRecv*) or when the forwarded data has arrived (RecvSend*). The walk ignores FIFO
/// capacity (the verifier proves that schedules respect it).
Prediction simulateSchedule(const Schedule& schedule, double blockBytes, const FabricModel& fabric);

}  // namespace prism
