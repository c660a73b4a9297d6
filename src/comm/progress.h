// Drives plans to completion: the one place where a rank waits.
#pragma once

#include <span>

namespace prism {

class Communicator;
struct Plan;

struct PlanRun {
  Communicator* comm;
  Plan* plan;
};

/// Progresses every plan until all are done. Waiting spins for PRISM_SPIN polls, then
/// yields, then sleeps on the transports' doorbells, so 8 ranks on 2 cores complete. If no
/// plan moves for PRISM_TIMEOUT_S seconds, or a communicator is aborted, throws an Error
/// naming the rank, the operation and the peer it waits for, and marks the communicator
/// failed (ncclCommGetAsyncError reports it).
void runPlans(std::span<const PlanRun> runs);

}  // namespace prism
