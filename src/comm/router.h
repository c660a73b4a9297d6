// The one road: every host or device operation, whether a lone C call (a group of one),
// the operations of an NCCL group, or a native API call, takes the path this router picks.
//
// Paths, in the order they are tried:
//   Device     device buffers: the device engine (src/device).
//   (tuner)    with a tuner plugin loaded, its answer for a host collective: the plan
//              path with the algorithm it chose, or the in-network path (src/comm/tuner.h);
//              no usable answer goes on down this list.
//   Direct     a whole-communicator host collective the direct host path takes
//              (src/core/direct_host.h): peers read each other's memory.
//   InNetwork  an AllReduce the in-network aggregation service takes
//              (src/core/in_network.h), where the cost model or PRISM_ALGO says so.
//   Plan       everything else: a schedule per collective and per-peer streams for
//              point-to-point messages, run by the executor over the transport.
// A path is chosen from what every rank of the call knows alike (the operation, the
// communicator, the cost model), never from the rest of the group, so all ranks of a call
// take the same path whatever else they grouped with it.
#pragma once

#include <cstdint>
#include <span>

#include "src/core/executor.h"
#include "src/core/operation.h"
#include "src/device/device.h"

namespace prism {

class Communicator;

enum class Path : uint8_t { Device, Direct, InNetwork, Plan };

/// "device", "direct", "in-network", "plan".
const char* pathName(Path path);

/// Where every call enters: runs `op` on `comm` now, as a group of one, or queues it when
/// an NCCL group is open (group.h), to run at its ncclGroupEnd.
void submit(Communicator& comm, const Operation& op);

/// The path `op` takes on `comm`. A tuner plugin's plan algorithm is recorded in
/// op.algorithm, for the planner.
Path choosePath(Communicator& comm, Operation& op);

/// One communicator's operations of a group, in issue order.
struct GroupWork {
  Communicator* comm;
  std::span<const Operation> ops;
};

/// Runs a group to completion, each operation on its path. Per communicator the direct
/// and in-network operations run first, in issue order; then the remaining host
/// operations, as one plan per communicator, all plans driven together (runPlans); then
/// the device operations. Where several communicators of the group have direct or
/// in-network operations, each communicator's run on a thread of its own, since one
/// thread may drive ranks that wait for each other. Throws the first error.
void runGroup(std::span<const GroupWork> group);

/// The entry points of each path. Every operation the router sends down a path is
/// counted there (Communicator::routedTo), where it runs, not where it is chosen.
///
/// Runs `op` on `path` (Direct or InNetwork) to completion: for callers that drive the
/// plan path themselves (the native API's progress engine).
void runAlone(Communicator& comm, const Operation& op, Path path);
/// The plan of operations the router sent to the plan path (Planner::build).
Plan& buildRoutedPlan(Communicator& comm, std::span<const Operation> ops);
/// Enqueues device operations on the device engine (device::Engine::run).
void runOnDevice(Communicator& comm, std::span<const Operation> ops,
                 device::Launch launch = device::Launch::Eager);

/// The plan path, driven here so that a call reads from the router to the planner and
/// the executor without a detour.
///
/// Plans `ops` alone (Planner::planFor, which replays a repeated lone call) and drives
/// the plan to completion.
void runPlanned(Communicator& comm, std::span<const Operation> ops);
/// Advances `plan` without blocking; true if anything moved. An error thrown here ends
/// the communicator (Communicator::endWith): ncclCommGetAsyncError reports it from then on.
bool progressPlan(Communicator& comm, Plan& plan);

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
