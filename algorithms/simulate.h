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
  /// max(latencyMicros + pacedMicros, bandwidthMicros) + reduceMicros; without bursty links
  /// that is latencyMicros + bandwidthMicros + reduceMicros. Infinity if the schedule is
  /// stuck.
  double micros = 0;
  /// The longest dependency chain: per step its software cost, per message its links'
  /// latency; at least cpuMicros.
  double latencyMicros = 0;
  /// The busiest link: every byte crossing it over its speed. Pipelining keeps links busy
  /// concurrently, so only the busiest one counts; links shared by several ranks (a host's
  /// uplink) add up their traffic, which is how contention enters.
  double bandwidthMicros = 0;
  /// The same for the bytes beyond each link's burst (FabricLink::burstBytes): a token
  /// bucket passes its depth at wire speed, overlapped with the latency chain, so only the
  /// rest is paced after it. Repeated calls still cannot beat the rate, hence the max in
  /// `micros`. Equals bandwidthMicros when no link has a burst.
  double pacedMicros = 0;
  /// Oversubscribed cores (CostProfile::sharedCores below nranks): every rank's step costs
  /// (each plus wakeMicros) summed and spread over the shared cores; latencyMicros is at
  /// least this. 0 otherwise.
  double cpuMicros = 0;
  /// The busiest reducer's combined bytes over the host's reduction speed.
  double reduceMicros = 0;
  std::string bottleneck;  ///< name of the busiest link
  /// Communication steps on the longest chain (each step counts 1).
  double criticalSteps = 0;
  /// Per rank: bytes sent, received, copied locally and reduced.
  std::vector<double> sent, received, copied, reduced;
  bool completes = true;
};

/// Walks `schedule` with every block `blockBytes` long, scratch blocks included: a Copy
/// to or from scratch loads the rank's memory port like any other Copy, and a reduction
/// into scratch counts as reduced bytes like one into the output. A step that receives starts when
/// the rank is free and the message has arrived; a send part leaves when the step starts
/// (SendRecv*) or when the forwarded data has arrived (RecvSend*). The walk ignores FIFO
/// capacity (the verifier proves that schedules respect it).
Prediction simulateSchedule(const Schedule& schedule, double blockBytes, const FabricModel& fabric);

}  // namespace prism
