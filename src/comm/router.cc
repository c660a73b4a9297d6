#include "src/comm/router.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "base/error.h"
#include "src/comm/communicator.h"
#include "src/comm/concurrent_jobs.h"
#include "src/comm/progress.h"

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
    const Path path = choosePath(*work.comm, op);
    if (path == Path::Device) {
      r.device.push_back(op);
    } else if (path == Path::Plan) {
      r.plan.push_back(op);
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

}  // namespace

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

namespace {}  // namespace

Path choosePath(Communicator& comm, const Operation& op) {
  if (op.onDevice) return Path::Device;
  if (comm.directEligible(op)) return Path::Direct;
  if (comm.inNetworkEligible(op)) return Path::InNetwork;
  return Path::Plan;
}

Plan& buildRoutedPlan(Communicator& comm, std::span<const Operation> ops) {
  for (size_t i = 0; i < ops.size(); ++i) comm.countRoute(Path::Plan);
  return comm.buildPlan(ops);
}

void runOnDevice(Communicator& comm, std::span<const Operation> ops) {
  for (size_t i = 0; i < ops.size(); ++i) comm.countRoute(Path::Device);
  comm.deviceEngine().run(ops);
}

void runAlone(Communicator& comm, const Operation& op, Path path) {
  check(path == Path::Direct || path == Path::InNetwork, ncclInternalError,
        "runAlone takes only the direct and in-network paths");
  comm.countRoute(path);
  if (path == Path::Direct) return comm.runDirect(op);
  comm.runInNetwork(op);
}

void runGroup(std::span<const GroupWork> group) {
  // A lone call: no sorting, no copies.
  if (group.size() == 1 && group[0].ops.size() == 1) {
    Communicator& comm = *group[0].comm;
    const Operation& op = group[0].ops[0];
    const Path path = choosePath(comm, op);
    switch (path) {
      case Path::Device:
        return runOnDevice(comm, group[0].ops);
      case Path::Plan:
        comm.countRoute(Path::Plan);
        return comm.run(group[0].ops);
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
