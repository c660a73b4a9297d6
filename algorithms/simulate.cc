#include "algorithms/simulate.h"

#include <algorithm>
#include <limits>

namespace prism {
namespace {

/// Unbounded FIFO of message arrival times (and chain depths), one per directed pair.
struct Arrivals {
  std::vector<double> times;
  std::vector<double> depths;
  size_t head = 0;
  bool empty() const { return head == times.size(); }
};

class Walker {
 public:
  Walker(const Schedule& schedule, double blockBytes, const FabricModel& fabric)
      : s_(schedule),
        f_(fabric),
        n_(schedule.nranks),
        blockBytes_(blockBytes),
        clock_(n_, 0.0),
        depth_(n_, 0.0),
        pc_(n_, 0),
        sendDone_(n_, false),
        queues_(static_cast<size_t>(n_) * n_),
        load_(fabric.links.size(), 0.0),
        cpu_(n_, 0.0) {
    p_.sent.assign(n_, 0.0);
    p_.received.assign(n_, 0.0);
    p_.copied.assign(n_, 0.0);
    p_.reduced.assign(n_, 0.0);
  }

  Prediction run() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (int r = 0; r < n_; ++r) {
        while (advance(r)) progress = true;
      }
    }
    finish();
    return std::move(p_);
  }

 private:
  Arrivals& queue(int from, int to) { return queues_[static_cast<size_t>(from) * n_ + to]; }

  /// Software cost of a step of rank r that talks to `peer` (-1: none).
  double stepCost(int r, int peer) const {
    double cost = f_.profile.stepMicros;
    if (peer >= 0) {
      for (int link : f_.path(r, peer)) {
        if (f_.links[link].network) return cost + f_.profile.networkStepMicros;
      }
    }
    return cost;
  }

  void post(int from, int to, double time, double depth) {
    double latency = 0;
    for (int link : f_.path(from, to)) {
      latency += f_.links[link].latencyMicros;
      load_[link] += blockBytes_;
    }
    Arrivals& q = queue(from, to);
    q.times.push_back(time + latency);
    q.depths.push_back(depth);
  }

  bool advance(int r) {
    if (pc_[r] == s_.steps[r].size()) return false;
    const Step& step = s_.steps[r][pc_[r]];
    const StepKind k = step.kind;
    if (k == StepKind::Copy) {
      p_.copied[r] += blockBytes_;
      if (!f_.memoryPort.empty()) load_[f_.memoryPort[r]] += blockBytes_;
      ++pc_[r];
      return true;
    }
    const bool sendsFirst =
        k == StepKind::Send || k == StepKind::SendRecv || k == StepKind::SendRecvReduce;
    if (sendsFirst && !sendDone_[r]) {
      post(r, step.sendPeer, clock_[r], depth_[r]);
      sendDone_[r] = true;
    }
    if (k == StepKind::Send) {
      const double cost = stepCost(r, step.sendPeer);
      clock_[r] += cost;
      cpu_[r] += cost + f_.profile.wakeMicros;
      depth_[r] += 1;
    } else {
      Arrivals& in = queue(step.recvPeer, r);
      if (in.empty()) return false;
      const double cost = stepCost(r, step.recvPeer);
      cpu_[r] += cost + f_.profile.wakeMicros;
      clock_[r] = std::max(clock_[r], in.times[in.head]) + cost;
      depth_[r] = std::max(depth_[r], in.depths[in.head]) + 1;
      ++in.head;
      if (stepSends(k) && !sendsFirst) post(r, step.sendPeer, clock_[r], depth_[r]);
    }
    if (stepSends(k)) p_.sent[r] += blockBytes_;
    if (stepReceives(k)) p_.received[r] += blockBytes_;
    if (stepReduces(k)) p_.reduced[r] += blockBytes_;
    sendDone_[r] = false;
    ++pc_[r];
    return true;
  }

  void finish() {
    for (int r = 0; r < n_; ++r) {
      if (pc_[r] != s_.steps[r].size()) p_.completes = false;
      p_.latencyMicros = std::max(p_.latencyMicros, clock_[r]);
      p_.criticalSteps = std::max(p_.criticalSteps, depth_[r]);
      p_.reduceMicros = std::max(p_.reduceMicros, p_.reduced[r] / f_.profile.reduceBytesPerMicro);
    }
    const double cores = f_.profile.sharedCores;
    if (cores > 0 && n_ > cores) {
      for (int r = 0; r < n_; ++r) p_.cpuMicros += cpu_[r];
      p_.cpuMicros /= cores;
      p_.latencyMicros = std::max(p_.latencyMicros, p_.cpuMicros);
    }
    for (size_t l = 0; l < load_.size(); ++l) {
      const FabricLink& link = f_.links[l];
      const double speed = link.bytesPerMicro * (link.network ? f_.profile.networkEfficiency : 1.0);
      const double micros = load_[l] / speed;
      if (micros > p_.bandwidthMicros) {
        p_.bandwidthMicros = micros;
        p_.bottleneck = link.name;
      }
      p_.pacedMicros = std::max(p_.pacedMicros, std::max(load_[l] - link.burstBytes, 0.0) / speed);
    }
    const double transfer =
        std::max(p_.latencyMicros + p_.pacedMicros, p_.bandwidthMicros) + p_.reduceMicros;
    p_.micros = p_.completes ? transfer : std::numeric_limits<double>::infinity();
  }

  const Schedule& s_;
  const FabricModel& f_;
  const int n_;
  const double blockBytes_;
  std::vector<double> clock_;
  std::vector<double> depth_;
  std::vector<size_t> pc_;
  std::vector<bool> sendDone_;
  std::vector<Arrivals> queues_;
  std::vector<double> load_;  ///< bytes per link
  std::vector<double> cpu_;   ///< per rank: software cost of its steps, wake-ups included
  Prediction p_;
};

}  // namespace

Prediction simulateSchedule(const Schedule& schedule, double blockBytes,
                            const FabricModel& fabric) {
  return Walker(schedule, blockBytes, fabric).run();
}

}  // namespace prism
