#include "algorithms/cost_model.h"

#include <algorithm>
#include <vector>

namespace prism {
namespace {

/// Unbounded FIFO of message availability times, one per directed pair.
struct TimeQueue {
  std::vector<double> times;
  size_t head = 0;
  bool empty() const { return head == times.size(); }
};

}  // namespace

ScheduleShape measureShape(const Schedule& schedule, double blockBytes) {
  const int n = schedule.nranks;
  std::vector<double> clock(n, 0.0);
  std::vector<double> sent(n, 0.0), received(n, 0.0), copied(n, 0.0), reduced(n, 0.0);
  std::vector<size_t> pc(n, 0);
  std::vector<bool> sendDone(n, false);
  std::vector<TimeQueue> queues(static_cast<size_t>(n) * n);
  auto queue = [&](int from, int to) -> TimeQueue& {
    return queues[static_cast<size_t>(from) * n + to];
  };

  auto advance = [&](int r) {
    if (pc[r] == schedule.steps[r].size()) return false;
    const Step& step = schedule.steps[r][pc[r]];
    const StepKind k = step.kind;
    if (k == StepKind::Copy) {
      copied[r] += blockBytes;
      ++pc[r];
      return true;
    }
    const bool sendsFirst =
        k == StepKind::Send || k == StepKind::SendRecv || k == StepKind::SendRecvReduce;
    if (sendsFirst && !sendDone[r]) {
      queue(r, step.sendPeer).times.push_back(clock[r]);
      sendDone[r] = true;
    }
    if (k == StepKind::Send) {
      clock[r] += 1;
    } else {
      TimeQueue& in = queue(step.recvPeer, r);
      if (in.empty()) return false;
      clock[r] = std::max(clock[r], in.times[in.head++]) + 1;
      if (stepSends(k) && !sendsFirst) queue(r, step.sendPeer).times.push_back(clock[r]);
    }
    if (stepSends(k)) sent[r] += blockBytes;
    if (stepReceives(k)) received[r] += blockBytes;
    if (stepReduces(k)) reduced[r] += blockBytes;
    sendDone[r] = false;
    ++pc[r];
    return true;
  };

  bool progress = true;
  while (progress) {
    progress = false;
    for (int r = 0; r < n; ++r) {
      while (advance(r)) progress = true;
    }
  }
  ScheduleShape shape;
  for (int r = 0; r < n; ++r) {
    if (pc[r] != schedule.steps[r].size()) shape.completes = false;
    shape.criticalSteps = std::max(shape.criticalSteps, clock[r]);
    // Links are full duplex: sending and receiving overlap; local copies do not.
    shape.busiestRankBytes =
        std::max(shape.busiestRankBytes, std::max(sent[r], received[r]) + copied[r]);
    shape.busiestReducedBytes = std::max(shape.busiestReducedBytes, reduced[r]);
  }
  return shape;
}

}  // namespace prism
