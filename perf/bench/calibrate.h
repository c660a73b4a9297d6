// prism-bench --calibrate: fitting the cost model's constants (CostProfile) to a few
// measurements taken through the public API. This part is pure arithmetic on measured
// times, so it is unit-tested; runCalibrationRank (calibrate_rank.cc, linked into
// prism-bench only) takes the measurements.
//
// Every measurement runs with PRISM_ALGO=ring, whose schedules the simulator walks as:
//   ring AllReduce of S bytes on n ranks: (2n-1) steps on the critical chain, 2(n-1)/n * S
//     through each rank's shared-memory out port, (n-1)/n * S reduced per rank;
//   ring AllGather of S output bytes: n steps, S through each out port ((n-1)/n * S sent
//     plus the local copy of the rank's own share, which the model charges to the same
//     port), nothing reduced.
// step_us comes from the 8-byte AllReduce (less its data time); the bandwidths from the
// slopes of time over size (a least-squares line through three large sizes), so fixed
// costs that the model does not know about cancel out. tests/calibrate_test.cc checks the
// formulas against the simulator.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "algorithms/fabric.h"  // CostProfile: plain data, its defaults; nothing linked
#include "perf/bench/launcher.h"
#include "perf/bench/options.h"

namespace prism::bench {

/// One measured size: nccl-tests' size and the median time per call.
struct TimedSize {
  size_t bytes = 0;
  double us = 0;
};

/// Median times (microseconds per call) measured on `nranks` ranks, all with ring.
struct CalibrationSamples {
  int nranks = 2;
  double smallAllReduceUs = 0;       ///< 8-byte AllReduce
  std::vector<TimedSize> allGather;  ///< large AllGathers (bytes: the whole output)
  std::vector<TimedSize> allReduce;  ///< large AllReduces
  /// Between rank 0 and the first rank on another host; 0 when every rank shares a host.
  double networkSmallUs = 0;  ///< 8-byte send (half a round trip)
  size_t networkBytes = 0;    ///< size of the large send
  double networkLargeUs = 0;  ///< send of networkBytes (half a round trip)
  double linkGbit = 0;        ///< --link-gbit; 0: the link rate is unknown
  /// The profile the run had (PRISM_TUNING_FILE, e.g. prism-run's for an emulated fabric):
  /// what calibration does not measure (network burst, shared cores, wake-up cost) is
  /// carried over from it into the result.
  CostProfile base;
};

/// The fields of a PRISM_TUNING_FILE that calibration carries over (network_burst_bytes,
/// shared_cores, wake_us) parsed from `text` into `base`; the others are left alone.
/// Returns false when `text` is not a JSON object.
bool readCarriedFields(const std::string& text, CostProfile* base);

/// The large sizes --calibrate measures: maxBytes/16, maxBytes/4 and maxBytes, each
/// rounded down to whole floats per rank; sizes that round to 0 are left out.
std::vector<size_t> calibrationSizes(size_t maxBytes, int nranks);

/// Least-squares slope of time over bytes (microseconds per byte); with fewer than two
/// distinct sizes, the one point's (us - fixedUs) / bytes.
double fitSlope(const std::vector<TimedSize>& points, double fixedUs);

/// The fitted profile and, per field, what it was derived from (or why the default stayed).
struct Calibration {
  CostProfile profile;
  std::vector<std::string> notes;
};

/// Critical-chain steps of ring AllReduce on n >= 2 ranks, as the simulator counts them.
int ringAllReduceSteps(int nranks);
/// Critical-chain steps of ring AllGather on n >= 2 ranks.
int ringAllGatherSteps(int nranks);

/// The middle value (mean of the two middle ones for an even count); 0 when empty.
double median(std::vector<double> values);

/// Solves the model for the samples. Fields that cannot be measured keep the defaults.
/// A remainder that is too small to measure (the reduction hidden behind the copies, for
/// instance) is bounded instead of going to zero or below, and says so in `notes`.
Calibration deriveProfile(const CalibrationSamples& samples);

/// The profile as JSON with src/core/cost_profile.cc's field names (step_us,
/// shm_bytes_per_us, reduce_bytes_per_us, network_efficiency, network_step_us,
/// network_burst_bytes, shared_cores, wake_us).
std::string formatProfileJson(const CostProfile& profile);

/// The measurements and fitted values as "# "-prefixed lines for the terminal.
std::string formatCalibration(const CalibrationSamples& samples, const Calibration& result);

/// One rank of `prism-bench --calibrate FILE`: measures on the current ranks (PRISM_ALGO
/// must already be "ring" in the environment; main sets it before any rank starts), and
/// rank 0 prints the result and writes FILE. Returns 0 on success. Every rank must call it.
int runCalibrationRank(const Options& options, const RankContext& context);

}  // namespace prism::bench
