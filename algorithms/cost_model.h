// Private to the selector: the alpha-beta cost of a schedule, read off its shape.
#pragma once

#include <cstddef>

#include "algorithms/schedule.h"

namespace prism {

/// What the alpha-beta model needs to know about a schedule.
struct ScheduleShape {
  /// Communication steps on the longest dependency chain (program order plus messages).
  double criticalSteps = 0;
  /// Bytes the busiest rank moves: the larger of what it sends and receives (one block per
  /// message), plus what it copies locally.
  double busiestRankBytes = 0;
  /// Bytes the busiest reducer combines (reading two operands, writing one): on one host
  /// this memory traffic, not the link, bounds large reductions.
  double busiestReducedBytes = 0;
  /// False if the walk got stuck (a broken schedule); the other fields are then invalid.
  bool completes = true;
};

/// Walks `schedule` as a dataflow graph, each block being `blockBytes` long. A step that
/// receives starts when the rank is free and the message is there and costs one step; a
/// send part is available when it starts (SendRecv*) or when the forwarded data has arrived
/// (RecvSend*); Copy costs no step. The walk ignores FIFO capacity.
ScheduleShape measureShape(const Schedule& schedule, double blockBytes);

/// Alpha-beta constants for shared memory on the reference VMs.
inline constexpr double kStepLatencyMicros = 1.5;   ///< per step: synchronisation + wakeup
inline constexpr double kLinkBytesPerMicro = 10e3;  ///< about 10 GB/s per link
/// Host reduction speed when memory-bound (two reads and a write per element, with other
/// ranks competing for the memory system): about 5 GB/s of reduced data. Measured with
/// PRISM_ALGO ring vs recursive_doubling on 2 ranks, where it moves the crossover to
/// tens of KiB (perf/RESULTS.md).
inline constexpr double kReduceBytesPerMicro = 5e3;

}  // namespace prism
