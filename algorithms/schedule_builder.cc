#include "algorithms/schedule_builder.h"

#include <algorithm>
#include <string>

#include "base/error.h"

namespace prism::build {

Schedule makeSchedule(const ScheduleRequest& request, const char* algorithm, int inputBlocks,
                      int outputBlocks) {
  check(request.nranks >= 1, ncclInvalidArgument,
        std::string(algorithm) + ": nranks must be at least 1");
  check(request.root >= 0 && request.root < request.nranks, ncclInvalidArgument,
        std::string(algorithm) + ": root out of range");
  Schedule s;
  s.collective = request.collective;
  s.nranks = request.nranks;
  s.root = request.root;
  s.algorithm = algorithm;
  s.inputBlocks = inputBlocks;
  s.outputBlocks = outputBlocks;
  s.steps.resize(request.nranks);
  return s;
}

BlockCounts shareBlocks(Collective c, int nranks) {
  switch (c) {
    case Collective::AllGather:
    case Collective::Gather:
      return {1, nranks};
    case Collective::ReduceScatter:
    case Collective::Scatter:
      return {nranks, 1};
    case Collective::AllToAll:
      return {nranks, nranks};
    default:
      return {1, 1};
  }
}

void throwUnsupported(const char* algorithm, Collective c) {
  throw Error(ncclInvalidUsage,
              std::string(algorithm) + " does not implement " + collectiveName(c));
}

namespace {

bool readsSource(StepKind k) { return k != StepKind::Recv && k != StepKind::RecvSend; }
bool writesDestination(StepKind k) { return k != StepKind::Send; }

}  // namespace

std::vector<Step> remapSteps(const Schedule& sub, int subRank, std::span<const int> members,
                             const BlockMapper& mapper, bool keepFinalize, int copy) {
  check(static_cast<int>(members.size()) == sub.nranks, ncclInternalError,
        "sub-schedule members do not match its rank count");
  check(sub.scratchBlocks == 0, ncclInternalError,
        sub.algorithm + " uses scratch blocks, which sub-schedules cannot map");
  auto map = [&](BlockRef ref) {
    const std::vector<BlockRef> refs = mapper(subRank, ref);
    check(copy < static_cast<int>(refs.size()), ncclInternalError,
          "sub-schedule block maps to fewer blocks than copies");
    return refs[copy];
  };
  std::vector<Step> result;
  for (const Step& step : sub.steps[subRank]) {
    Step out = step;
    out.sendPeer = step.sendPeer < 0 ? -1 : members[step.sendPeer];
    out.recvPeer = step.recvPeer < 0 ? -1 : members[step.recvPeer];
    if (readsSource(step.kind)) out.src = map(step.src);
    if (writesDestination(step.kind) && step.dst.buffer != BufferId::Wire) out.dst = map(step.dst);
    out.finalize = step.finalize && keepFinalize;
    if (step.kind == StepKind::Copy && out.src == out.dst && !out.finalize) continue;
    result.push_back(out);
  }
  return result;
}

void appendSubSchedule(Schedule& global, const Schedule& sub, std::span<const int> members,
                       const BlockMapper& mapper, bool keepFinalize, int copies) {
  for (int copy = 0; copy < copies; ++copy) {
    for (int r = 0; r < sub.nranks; ++r) {
      std::vector<Step> steps = remapSteps(sub, r, members, mapper, keepFinalize, copy);
      auto& target = global.steps[members[r]];
      target.insert(target.end(), steps.begin(), steps.end());
    }
  }
}

std::vector<Step> windowed(const std::vector<Step>& sends, const std::vector<Step>& recvs) {
  std::vector<Step> result;
  result.reserve(sends.size() + recvs.size());
  size_t sent = 0;
  for (size_t i = 0; i < recvs.size(); ++i) {
    while (sent < sends.size() && sent < i + kFlowWindow) result.push_back(sends[sent++]);
    result.push_back(recvs[i]);
  }
  while (sent < sends.size()) result.push_back(sends[sent++]);
  return result;
}

std::vector<Step> interleave(const std::vector<Step>& a, const std::vector<Step>& b) {
  std::vector<Step> result;
  result.reserve(a.size() + b.size());
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) result.push_back(a[i]);
    if (i < b.size()) result.push_back(b[i]);
  }
  return result;
}

}  // namespace prism::build
