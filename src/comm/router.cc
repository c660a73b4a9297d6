#include "src/comm/router.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "base/error.h"
#include "src/comm/communicator.h"
#include "src/comm/concurrent_jobs.h"
#include "src/comm/group.h"
#include "transports/transport.h"

namespace prism {

namespace {

/// One communicator's group operations, sorted by path.
struct Routed {
  Communicator* comm = nullptr;
  std::vector<std::pair<const Operation*, Path>> alone;  ///< Direct and InNetwork
  std::vector<Operation> plan;
  std::vector<Operation> device;
};

Routed route(const GroupWork& work) {
  Routed r;
  r.comm = work.comm;
  for (const Operation& op : work.ops) {
    Operation routed = op;
    const Path path = choosePath(*work.comm, routed);
    if (path == Path::Device) {
      r.device.push_back(op);
    } else if (path == Path::Plan) {
      r.plan.push_back(routed);
    } else {
      r.alone.emplace_back(&op, path);
    }
  }
  return r;
}

void runAloneOps(const Routed& r) {
  for (auto [op, path] : r.alone) runAlone(*r.comm, *op, path);
}

/// Enqueues each communicator's device operations. Engines that meet their peers on the
/// host while enqueueing run on threads of their own when one thread drives several
/// communicators, or those peers would wait for each other in turn forever.
void runDevice(std::vector<Routed>& routed) {
  std::vector<Routed*> lists;
  for (Routed& r : routed)
    if (!r.device.empty()) lists.push_back(&r);
  const bool rendezvous =
      lists.size() > 1 && std::any_of(lists.begin(), lists.end(), [](Routed* r) {
        return r->comm->deviceEngine().needsHostRendezvous(r->device);
      });
  if (!rendezvous) {
    for (Routed* r : lists) runOnDevice(*r->comm, r->device);
    return;
  }
  std::vector<std::function<void()>> jobs;
  for (Routed* r : lists) jobs.push_back([r] { runOnDevice(*r->comm, r->device); });
  runConcurrently(jobs);
}

// The plan path's driver, the one place where a rank waits: its helpers.

using Clock = std::chrono::steady_clock;

/// How long a wait lasts before the waiting rank looks for peers that gave up or died:
/// far below any timeout, far above the waits of a healthy exchange.
constexpr auto kPeerCheckAfter = std::chrono::milliseconds(2);

/// One pass over every unfinished plan. Returns whether anything moved; sets `done`.
bool pollAll(std::span<const PlanRun> runs, bool& done) {
  bool moved = false;
  done = true;
  for (const PlanRun& run : runs) {
    if (run.plan->done()) continue;
    run.comm->checkUsable();
    moved |= progressPlan(*run.comm, *run.plan);
    done &= run.plan->done();
  }
  return moved;
}

[[noreturn]] void failStuck(std::span<const PlanRun> runs, const char* why) {
  for (const PlanRun& run : runs) {
    if (run.plan->done()) continue;
    std::string message = "rank " + std::to_string(run.comm->rank()) + " of " + run.comm->name() +
                          ": " + why + " in " + run.comm->describeWait(*run.plan);
    run.comm->setAsyncError(ncclSystemError);
    throw Error(ncclSystemError, message);
  }
  throw Error(ncclInternalError, why);
}

/// Counts this thread as a driver of every communicator in `runs` while it waits; when the
/// wait ends, the transports learn that no thread calls progress() for them any more.
class DriverScope {
 public:
  explicit DriverScope(std::span<const PlanRun> runs) : runs_(runs) {
    for (const PlanRun& run : runs_) run.comm->drivers().fetch_add(1);
  }
  ~DriverScope() {
    pause(runs_, ProgressPause::CallEnd);
    for (const PlanRun& run : runs_) run.comm->drivers().fetch_sub(1);
  }
  static void pause(std::span<const PlanRun> runs, ProgressPause why) {
    for (const PlanRun& run : runs) run.comm->transport().pauseProgress(why);
  }

 private:
  std::span<const PlanRun> runs_;
};

}  // namespace

void runPlans(std::span<const PlanRun> runs) {
  DriverScope drivers(runs);
  const int64_t spin = runs.front().comm->spinCount();
  const auto timeout = std::chrono::seconds(runs.front().comm->timeoutSeconds());
  // A single communicator sleeps until a peer rings; several (one thread driving many
  // ranks) poll their doorbells in turn with short naps.
  const auto nap =
      runs.size() == 1 ? std::chrono::microseconds(50000) : std::chrono::microseconds(200);
  // The clock is read only once the rank starts to wait: while messages flow, a clock
  // read per poll would cost as much as the poll itself.
  Clock::time_point lastMove;
  bool moveSinceClock = true;  // "since the call began": read at the first wait
  int64_t idle = 0;
  bool done = false;
  while (true) {
    if (pollAll(runs, done)) {
      idle = 0;
      moveSinceClock = true;
    }
    if (done) return;
    ++idle;
    if (idle < spin) continue;
    if (moveSinceClock) {
      lastMove = Clock::now();
      moveSinceClock = false;
    }
    if (idle < spin + 8) {
      sched_yield();
      continue;
    }
    // A peer that gave up may sit behind a FIFO this rank is not reading, and a peer
    // process that died sends nothing ever again. Looked at only once a wait has lasted
    // a while, so waits of a healthy exchange pay nothing for it.
    if (Clock::now() - lastMove >= kPeerCheckAfter) {
      for (const PlanRun& run : runs) {
        if (!run.plan->done()) run.comm->checkPeers(*run.plan);
      }
    }
    Doorbell& bell = runs.front().comm->transport().doorbell();
    uint32_t ticket = bell.arm();
    bool moved = pollAll(runs, done);
    if (!moved && !done) {
      // Armed first: what the transports' own threads move from here on rings the bell.
      DriverScope::pause(runs, ProgressPause::Sleep);
      bell.wait(ticket, nap);
    }
    bell.disarm();
    if (moved) {
      idle = 0;
      lastMove = Clock::now();
    }
    if (done) return;
    if (Clock::now() - lastMove > timeout) failStuck(runs, "timed out waiting for peers");
  }
}

bool progressPlan(Communicator& comm, Plan& plan) {
  try {
    return comm.executor().progress(plan);
  } catch (const Error& e) {
    const Program* current = Executor::currentProgram(plan);
    comm.endWith(e, current ? current->fingerprint.seq : 0);
    throw;
  }
}

void runPlanned(Communicator& comm, std::span<const Operation> ops) {
  Plan& plan = comm.planner().planFor(ops, comm.recovering());
  const PlanRun one{&comm, &plan};
  runPlans({&one, 1});
  comm.planner().completed(ops);
}

const char* pathName(Path path) {
  switch (path) {
    case Path::Device:
      return "device";
    case Path::Direct:
      return "direct";
    case Path::InNetwork:
      return "in-network";
    case Path::Plan:
      return "plan";
  }
  return "unknown";
}

void submit(Communicator& comm, const Operation& op) {
  if (group::active()) return group::queue(comm, op);
  const GroupWork one{&comm, {&op, 1}};
  runGroup({&one, 1});
}

Path choosePath(Communicator& comm, Operation& op) {
  if (op.onDevice) return Path::Device;
  if (const std::optional<Path> tuned = comm.askTuner(op)) return *tuned;
  if (comm.directEligible(op)) return Path::Direct;
  if (comm.inNetworkEligible(op)) return Path::InNetwork;
  return Path::Plan;
}

Plan& buildRoutedPlan(Communicator& comm, std::span<const Operation> ops) {
  comm.countRoute(Path::Plan, ops.size());
  return comm.planner().build(ops, comm.recovering());
}

void runOnDevice(Communicator& comm, std::span<const Operation> ops, device::Launch launch) {
  comm.countRoute(Path::Device, ops.size());
  comm.deviceEngine().run(ops, launch);
}

void runAlone(Communicator& comm, const Operation& op, Path path) {
  check(path == Path::Direct || path == Path::InNetwork, ncclInternalError,
        "runAlone takes only the direct and in-network paths");
  comm.countRoute(path);
  if (path == Path::Direct) return comm.runDirect(op);
  comm.runInNetwork(op);
}

void runGroup(std::span<const GroupWork> group) {
  // A lone call: no sorting, no lists; one copy of the operation, for the router to note
  // a tuner's choice in.
  if (group.size() == 1 && group[0].ops.size() == 1) {
    Communicator& comm = *group[0].comm;
    Operation op = group[0].ops[0];
    const Path path = choosePath(comm, op);
    switch (path) {
      case Path::Device:
        return runOnDevice(comm, group[0].ops);
      case Path::Plan:
        comm.countRoute(Path::Plan);
        return runPlanned(comm, {&op, 1});
      case Path::Direct:
      case Path::InNetwork:
        return runAlone(comm, op, path);
    }
  }
  std::vector<Routed> routed;
  routed.reserve(group.size());
  for (const GroupWork& work : group) {
    work.comm->checkUsable();
    routed.push_back(route(work));
  }
  std::vector<Routed*> withAlone;
  for (Routed& r : routed)
    if (!r.alone.empty()) withAlone.push_back(&r);
  if (withAlone.size() == 1) {
    runAloneOps(*withAlone[0]);
  } else if (withAlone.size() > 1) {
    std::vector<std::function<void()>> jobs;
    for (Routed* r : withAlone) jobs.push_back([r] { runAloneOps(*r); });
    runConcurrently(jobs);
  }
  std::vector<PlanRun> runs;
  for (Routed& r : routed)
    if (!r.plan.empty()) runs.push_back({r.comm, &buildRoutedPlan(*r.comm, r.plan)});
  if (!runs.empty()) runPlans(runs);
  runDevice(routed);
}

}  // namespace prism
