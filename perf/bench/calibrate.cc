#include "perf/bench/calibrate.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "perf/bench/formatf.h"

namespace prism::bench {
namespace {

// A remainder (measured time minus what the other terms explain) below this share of the
// measured time is noise, not a measurement: it is bounded here instead.
constexpr double kSmallestShare = 0.05;
// The small allreduce's size (two floats).
constexpr double kSmallAllReduceBytes = 8;
// step_us and network_step_us must stay positive for the profile parser.
constexpr double kSmallestStepUs = 0.01;

}  // namespace

int ringAllReduceSteps(int nranks) { return 2 * nranks - 1; }

int ringAllGatherSteps(int nranks) { return nranks; }

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::vector<size_t> calibrationSizes(size_t maxBytes, int nranks) {
  const size_t unit = sizeof(float) * static_cast<size_t>(std::max(nranks, 1));
  std::vector<size_t> sizes;
  for (size_t divisor : {16, 4, 1}) {
    const size_t bytes = maxBytes / divisor / unit * unit;
    if (bytes > 0 && (sizes.empty() || sizes.back() != bytes)) sizes.push_back(bytes);
  }
  return sizes;
}

double fitSlope(const std::vector<TimedSize>& points, double fixedUs) {
  if (points.empty()) return 0;
  double meanX = 0, meanY = 0;
  for (const TimedSize& p : points) {
    meanX += static_cast<double>(p.bytes);
    meanY += p.us;
  }
  meanX /= static_cast<double>(points.size());
  meanY /= static_cast<double>(points.size());
  double sxy = 0, sxx = 0;
  for (const TimedSize& p : points) {
    const double dx = static_cast<double>(p.bytes) - meanX;
    sxy += dx * (p.us - meanY);
    sxx += dx * dx;
  }
  if (sxx > 0) return sxy / sxx;
  return (points.back().us - fixedUs) / static_cast<double>(points.back().bytes);
}

/// step_us, shm_bytes_per_us and reduce_bytes_per_us from ring measurements on one host.
static void fitSharedMemory(const CalibrationSamples& s, Calibration& c) {
  CostProfile& p = c.profile;
  const double n = s.nranks;
  p.stepMicros = s.smallAllReduceUs / ringAllReduceSteps(s.nranks);
  c.notes.push_back(
      formatf("step_us: (8 B ring allreduce time - its data time) / %d critical steps",
              ringAllReduceSteps(s.nranks)));

  // Ring AllGather: n steps + bytes / shm.
  const TimedSize& ag = s.allGather.back();
  double agSlope = fitSlope(s.allGather, ringAllGatherSteps(s.nranks) * p.stepMicros);
  const bool agBounded = !(agSlope * static_cast<double>(ag.bytes) >= kSmallestShare * ag.us);
  if (agBounded) agSlope = kSmallestShare * ag.us / static_cast<double>(ag.bytes);
  p.shmBytesPerMicro = 1 / agSlope;
  c.notes.push_back(std::string("shm_bytes_per_us: 1 / slope of ring allgather time over bytes") +
                    (agBounded ? " (slope not above noise: bounded)" : ""));

  // Ring AllReduce: (2n-1) steps + 2(n-1)/n bytes / shm + (n-1)/n bytes / reduce.
  const TimedSize& ar = s.allReduce.back();
  const double arSlope = fitSlope(s.allReduce, ringAllReduceSteps(s.nranks) * p.stepMicros);
  double reduceSlope = arSlope - 2 * (n - 1) / n / p.shmBytesPerMicro;
  const bool arBounded = !(reduceSlope * static_cast<double>(ar.bytes) >= kSmallestShare * ar.us);
  if (arBounded) reduceSlope = kSmallestShare * ar.us / static_cast<double>(ar.bytes);
  p.reduceBytesPerMicro = (n - 1) / n / reduceSlope;
  c.notes.push_back(
      std::string("reduce_bytes_per_us: (n-1)/n / (ring allreduce slope - 2(n-1)/n / shm)") +
      (arBounded ? " (reduction hidden behind the copies: bounded)" : ""));

  // The 8-byte allreduce also moves and reduces its few bytes; with the speeds known,
  // that part leaves step_us (the slopes above do not depend on it).
  const double smallBytes = kSmallAllReduceBytes;
  const double smallDataUs = 2 * (n - 1) / n * smallBytes / p.shmBytesPerMicro +
                             (n - 1) / n * smallBytes / p.reduceBytesPerMicro;
  p.stepMicros =
      std::max((s.smallAllReduceUs - smallDataUs) / ringAllReduceSteps(s.nranks), kSmallestStepUs);
}

Calibration deriveProfile(const CalibrationSamples& s) {
  Calibration c;
  CostProfile& p = c.profile;
  p.networkBurstBytes = s.base.networkBurstBytes;
  p.sharedCores = s.base.sharedCores;
  p.wakeMicros = s.base.wakeMicros;
  if (s.nranks < 2 || s.smallAllReduceUs <= 0 || s.allGather.empty() || s.allReduce.empty()) {
    c.notes.push_back("nothing measured: kept every default");
    return c;
  }
  const bool acrossHosts = s.networkLargeUs > 0 && s.networkBytes > 0;
  if (acrossHosts) {
    // The ring measurements cross the network, so they say nothing about shared memory:
    // keep those defaults (calibrate one host with -np for them) and fit the network only.
    c.notes.push_back(
        "step_us, shm_bytes_per_us, reduce_bytes_per_us: defaults (ranks span hosts; "
        "calibrate one host for these)");
  } else {
    fitSharedMemory(s, c);
  }
  if (!acrossHosts) {
    c.notes.push_back("network_step_us, network_efficiency: defaults (all ranks on one host)");
    return c;
  }
  if (p.sharedCores > 0 && s.nranks > p.sharedCores) {
    // The half round trip then mostly waits for a core (about 1000 us on 8 ranks and 2
    // cores, against some 45 us of work per network step): shared_cores and wake_us model
    // that, so it must not become a per-step cost as well.
    c.notes.push_back(
        "network_step_us: default (ranks outnumber shared_cores: the 8 B send mostly waits "
        "for a core)");
  } else {
    p.networkStepMicros = std::max(s.networkSmallUs - p.stepMicros, kSmallestStepUs);
    c.notes.push_back("network_step_us: 8 B send across hosts - step_us (includes link latency)");
  }
  if (s.linkGbit > 0) {
    const double streamUs =
        std::max(s.networkLargeUs - s.networkSmallUs, kSmallestShare * s.networkLargeUs);
    const double linkBytesPerMicro = s.linkGbit * 1e3 / 8;
    p.networkEfficiency =
        std::min(static_cast<double>(s.networkBytes) / streamUs / linkBytesPerMicro, 1.0);
    c.notes.push_back("network_efficiency: large send across hosts / --link-gbit");
  } else {
    c.notes.push_back("network_efficiency: default (give --link-gbit to measure it)");
  }
  return c;
}

std::string formatProfileJson(const CostProfile& p) {
  nlohmann::ordered_json doc;
  doc["step_us"] = p.stepMicros;
  doc["shm_bytes_per_us"] = p.shmBytesPerMicro;
  doc["reduce_bytes_per_us"] = p.reduceBytesPerMicro;
  doc["network_efficiency"] = p.networkEfficiency;
  doc["network_step_us"] = p.networkStepMicros;
  doc["network_burst_bytes"] = p.networkBurstBytes;
  doc["shared_cores"] = p.sharedCores;
  doc["wake_us"] = p.wakeMicros;
  return doc.dump(2) + "\n";
}

bool readCarriedFields(const std::string& text, CostProfile* base) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object()) return false;
  auto carry = [&](const char* name, double* field) {
    auto it = doc.find(name);
    if (it != doc.end() && it->is_number() && it->get<double>() >= 0) *field = it->get<double>();
  };
  carry("network_burst_bytes", &base->networkBurstBytes);
  carry("shared_cores", &base->sharedCores);
  carry("wake_us", &base->wakeMicros);
  return true;
}

std::string formatCalibration(const CalibrationSamples& s, const Calibration& result) {
  const CostProfile& p = result.profile;
  std::string out = formatf("# Calibration on %d ranks (PRISM_ALGO=ring, medians)\n", s.nranks);
  out += formatf("#   allreduce %12d B %10.2f us\n", 8, s.smallAllReduceUs);
  for (const TimedSize& t : s.allGather) {
    out += formatf("#   allgather %12zu B %10.2f us\n", t.bytes, t.us);
  }
  for (const TimedSize& t : s.allReduce) {
    out += formatf("#   allreduce %12zu B %10.2f us\n", t.bytes, t.us);
  }
  if (s.networkLargeUs > 0) {
    out += formatf("#   send across hosts %4d B %10.2f us\n", 8, s.networkSmallUs);
    out += formatf("#   send across hosts %zu B %10.2f us\n", s.networkBytes, s.networkLargeUs);
  }
  out += formatf(
      "# step_us %.3f  shm_bytes_per_us %.0f  reduce_bytes_per_us %.0f  "
      "network_efficiency %.3f  network_step_us %.2f\n",
      p.stepMicros, p.shmBytesPerMicro, p.reduceBytesPerMicro, p.networkEfficiency,
      p.networkStepMicros);
  for (const std::string& note : result.notes) out += "#   " + note + "\n";
  return out;
}

}  // namespace prism::bench
