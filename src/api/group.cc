#include "api/group.h"

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "api/handle.h"
#include "core/error.h"
#include "core/progress.h"

namespace prism::group {

namespace {

struct GroupState {
  int depth = 0;
  ncclResult_t error = ncclSuccess;
  std::vector<std::pair<ncclComm*, Operation>> ops;
  std::vector<std::function<void()>> inits;
};

thread_local GroupState tGroup;

/// Runs jobs (deferred initializations, device enqueues) concurrently: ranks of one
/// communicator driven from one thread must rendezvous with each other.
void runConcurrently(std::vector<std::function<void()>>& inits) {
  if (inits.size() == 1) return inits[0]();
  std::vector<std::exception_ptr> errors(inits.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < inits.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        inits[i]();
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

/// The queued operations, one list per communicator, in first-use order.
std::vector<std::pair<ncclComm*, std::vector<Operation>>> byCommunicator(
    std::vector<std::pair<ncclComm*, Operation>>& ops) {
  std::vector<std::pair<ncclComm*, std::vector<Operation>>> lists;
  for (auto& [comm, op] : ops) {
    auto it = std::find_if(lists.begin(), lists.end(), [&](auto& l) { return l.first == comm; });
    if (it == lists.end()) it = lists.insert(lists.end(), {comm, {}});
    it->second.push_back(op);
  }
  return lists;
}

/// Enqueues each communicator's device operations. Engines that meet their peers on the
/// host while enqueueing run on threads of their own when one thread drives several
/// communicators, or those peers would wait for each other in turn forever.
void runDevice(std::vector<std::pair<Communicator*, std::vector<Operation>>>& lists) {
  bool rendezvous = lists.size() > 1 && std::any_of(lists.begin(), lists.end(), [](auto& l) {
                      return l.first->deviceEngine().needsHostRendezvous(l.second);
                    });
  if (!rendezvous) {
    for (auto& [comm, ops] : lists) comm->deviceEngine().run(ops);
    return;
  }
  std::vector<std::function<void()>> jobs;
  for (auto& [comm, ops] : lists) jobs.push_back([comm, &ops] { comm->deviceEngine().run(ops); });
  runConcurrently(jobs);
}

GroupState closeOutermost() {
  check(tGroup.depth > 0, ncclInvalidUsage, "ncclGroupEnd called without ncclGroupStart");
  if (--tGroup.depth > 0) return {};
  GroupState work = std::move(tGroup);
  tGroup = GroupState{};
  check(work.error == ncclSuccess, work.error,
        "a call inside the group failed, so the whole group was dropped");
  runConcurrently(work.inits);
  return work;
}

}  // namespace

bool active() { return tGroup.depth > 0; }

void start() { ++tGroup.depth; }

void submit(ncclComm* comm, const Operation& op) {
  if (active()) {
    tGroup.ops.emplace_back(comm, op);
    return;
  }
  if (op.onDevice) return comm->get().deviceEngine().run({&op, 1});
  if (comm->get().tryDirect(op)) return;
  if (comm->get().tryInNetwork(op)) return;
  comm->get().run({&op, 1});
}

void submitInit(std::function<void()> init) {
  if (active()) {
    tGroup.inits.push_back(std::move(init));
    return;
  }
  init();
}

void recordError(ncclResult_t code) {
  if (active() && tGroup.error == ncclSuccess) tGroup.error = code;
}

void end() {
  GroupState work = closeOutermost();
  if (work.ops.empty()) return;
  auto lists = byCommunicator(work.ops);
  std::vector<PlanRun> runs;
  std::vector<std::pair<Communicator*, std::vector<Operation>>> deviceLists;
  for (auto& [comm, ops] : lists) {
    Communicator& c = comm->get();
    c.checkUsable();
    // Host buffers go through the plan; device buffers to the device engine, after.
    auto device = std::stable_partition(ops.begin(), ops.end(),
                                        [](const Operation& op) { return !op.onDevice; });
    if (device != ops.end()) deviceLists.push_back({&c, {device, ops.end()}});
    ops.erase(device, ops.end());
    if (!ops.empty()) runs.push_back({&c, &c.buildPlan(ops)});
  }
  if (!runs.empty()) runPlans(runs);
  runDevice(deviceLists);
}

float simulateEnd() {
  GroupState work = closeOutermost();
  float slowest = 0;
  for (auto& [comm, ops] : byCommunicator(work.ops)) {
    double micros = 0;
    for (const Operation& op : ops) micros += comm->get().predictMicros(op);
    slowest = std::max(slowest, static_cast<float>(micros));
  }
  return slowest;
}

}  // namespace prism::group
