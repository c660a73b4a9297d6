#include "src/comm/group.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "base/error.h"
#include "src/comm/communicator.h"
#include "src/comm/concurrent_jobs.h"
#include "src/comm/router.h"

namespace prism::group {

namespace {

struct GroupState {
  int depth = 0;
  ncclResult_t error = ncclSuccess;
  std::vector<std::pair<Communicator*, Operation>> ops;
  std::vector<std::function<void()>> inits;
};

thread_local GroupState tGroup;

/// The queued operations, one list per communicator, in first-use order.
std::vector<std::pair<Communicator*, std::vector<Operation>>> byCommunicator(
    std::vector<std::pair<Communicator*, Operation>>& ops) {
  std::vector<std::pair<Communicator*, std::vector<Operation>>> lists;
  for (auto& [comm, op] : ops) {
    auto it = std::find_if(lists.begin(), lists.end(), [&](auto& l) { return l.first == comm; });
    if (it == lists.end()) it = lists.insert(lists.end(), {comm, {}});
    it->second.push_back(op);
  }
  return lists;
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

void queue(Communicator& comm, const Operation& op) { tGroup.ops.emplace_back(&comm, op); }

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
  std::vector<GroupWork> group;
  group.reserve(lists.size());
  for (auto& [comm, ops] : lists) group.push_back({comm, ops});
  runGroup(group);
}

float simulateEnd() {
  GroupState work = closeOutermost();
  float slowest = 0;
  for (auto& [comm, ops] : byCommunicator(work.ops)) {
    double micros = 0;
    for (const Operation& op : ops) micros += comm->predictMicros(op);
    slowest = std::max(slowest, static_cast<float>(micros));
  }
  return slowest;
}

}  // namespace prism::group
