// OverlapMeter: collects one step's communication and compute intervals; the arithmetic
// is in interval_math.cc.
#include "train/overlap/overlap_meter.hpp"

#include <chrono>

namespace prism::overlap {

namespace {

// A communication that is no collective (a hook's own scheme) is reported under this name
// and moves its bytes once over the bus.
constexpr const char* kCustomName = "custom";

}  // namespace

double OverlapMeter::seconds(Work::Clock::time_point t) const {
  return std::chrono::duration<double>(t - origin_).count();
}

void OverlapMeter::record(const Work& work, std::optional<Collective> collective, int nranks) {
  pending_.push_back({work, collective, nranks});
  if (serialize_) work.wait();
}

void OverlapMeter::recordInterval(Interval interval, std::optional<Collective> collective,
                                  int nranks, size_t bytes) {
  comms_.push_back({interval, collective, nranks, bytes});
}

void OverlapMeter::beginCompute() { computeBegin_ = seconds(Work::Clock::now()); }

void OverlapMeter::endCompute() {
  if (computeBegin_ < 0) return;
  compute_.push_back({computeBegin_, seconds(Work::Clock::now())});
  computeBegin_ = -1;
}

void OverlapMeter::addCompute(Interval interval) { compute_.push_back(interval); }

OverlapMeter::Report OverlapMeter::endStep() {
  for (const Pending& p : pending_) {
    p.work.wait();
    recordInterval({seconds(p.work.startTime()), seconds(p.work.endTime())}, p.collective, p.nranks,
                   p.work.bytes());
  }
  pending_.clear();
  Report report;
  std::vector<Interval> comm;
  std::map<std::string, double> busBytes, busSeconds;
  for (const CommRecord& c : comms_) {
    comm.push_back(c.interval);
    const std::string name = c.collective ? collectiveName(*c.collective) : kCustomName;
    const double factor = c.collective ? busBandwidthFactor(*c.collective, c.nranks) : 1.0;
    report.bytes[name] += c.bytes;
    busBytes[name] += c.bytes * factor;
    busSeconds[name] += c.interval.end - c.interval.begin;
  }
  for (const auto& [name, bytes] : busBytes)
    report.busBwGBs[name] = busSeconds[name] > 0 ? bytes / busSeconds[name] / 1e9 : 0;
  report.commSeconds = unionLength(comm);
  report.exposedSeconds = exposedLength(comm, compute_);
  if (report.commSeconds > 0)
    report.overlapPercent =
        100.0 * (report.commSeconds - report.exposedSeconds) / report.commSeconds;
  comms_.clear();
  compute_.clear();
  return report;
}

}  // namespace prism::overlap
