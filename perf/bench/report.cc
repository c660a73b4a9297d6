#include "perf/bench/report.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "perf/bench/formatf.h"

namespace prism::bench {
namespace {

std::string formatMeasurement(const Measurement& m, size_t bytes, double factor) {
  double alg = algBw(bytes, m.timeUs);
  std::string wrong = m.wrong ? std::to_string(*m.wrong) : "N/A";
  // Fewer decimals for long times keep the column 8 characters wide up to 100 s.
  const char* timeFormat = m.timeUs >= 1e5 ? " %8.0f" : m.timeUs >= 1e4 ? " %8.1f" : " %8.2f";
  return formatf(timeFormat, m.timeUs) +
         formatf(" %7.2f %7.2f %6s", alg, alg * factor, wrong.c_str());
}

// " pred meas/pred" after the nccl-tests columns; empty without a prediction.
std::string formatPrediction(const ResultRow& row) {
  if (!row.predictedUs) return "";
  return formatf(" %9.2f %9.3f", *row.predictedUs,
                 measuredOverPredicted(row.outOfPlace.timeUs, *row.predictedUs));
}

std::string memoryDescription(MemKind kind) {
  switch (kind) {
    case MemKind::Host:
      return "host (malloc)";
    case MemKind::Device:
      return "device (cudaMalloc)";
    case MemKind::NcclMem:
      return "ncclmem (ncclMemAlloc)";
    case MemKind::Shm:
      return "shm (memfd mapped shared)";
  }
  return "?";
}

// "4 = 2 processes x 2 threads", and " x 2 GPUs per thread" with -g.
std::string rankDescription(const Options& o) {
  return std::to_string(o.totalRanks()) + " = " + std::to_string(o.nranks) +
         (o.nranks == 1 ? " process x " : " processes x ") + std::to_string(o.nthreads) +
         (o.nthreads == 1 ? " thread" : " threads") +
         (o.ngpus == 1 ? "" : " x " + std::to_string(o.ngpus) + " GPUs per thread");
}

// nccl-tests' lines under its parameter line, for the flags that change how Prism runs,
// then one line per nccl-tests flag that is set but has no effect on Prism.
std::string flagLines(const Options& o) {
  std::string out;
  if (o.blockingMode != 0) {
    out += formatf(
        "# Blocking Enabled: -z %d; every call (every -m group) waits for completion through "
        "ncclCommGetAsyncError\n",
        o.blockingMode);
  }
  if (o.parallelInit) {
    out += "# Parallel Init Enabled: threads call into NcclInitRank concurrently \n";
  }
  if (o.ngpus > 1) {
    out += formatf("# GPUs per thread: -g %d runs %d thread ranks per process (nThread x nGpus)\n",
                   o.ngpus, o.ranksPerProcess());
  }
  if (o.timeoutS > 0 && o.timeoutEnv.empty()) {
    out += formatf("# Timeout: %d s without progress fails a call (PRISM_TIMEOUT_S=%d)\n",
                   o.timeoutS, o.timeoutS);
  } else if (o.timeoutS > 0) {
    out += formatf("# Timeout: -T %d not applied: PRISM_TIMEOUT_S=%s is set in the environment\n",
                   o.timeoutS, o.timeoutEnv.c_str());
  }
  struct Unused {
    const char* flag;
    const char* name;
    int value;
    int standard;
  };
  for (const Unused& u :
       {Unused{"-y", "stream_null", o.streamNull, 0}, Unused{"-x", "cta_policy", o.ctaPolicy, -1},
        Unused{"-D", "device_implementation", o.deviceImpl, 0},
        Unused{"-V", "device_cta_count", o.deviceCtaCount, 16},
        Unused{"-I", "per_iter_timing", o.perIterTiming, 0},
        Unused{"-K", "per_iter_skip", o.perIterSkip, 0}}) {
    if (u.value != u.standard) {
      out += formatf("# Accepted, no effect on Prism: %s %d (%s)\n", u.flag, u.value, u.name);
    }
  }
  return out;
}

}  // namespace

double measuredOverPredicted(double measuredUs, double predictedUs) {
  return predictedUs > 0 ? measuredUs / predictedUs : 0.0;
}

double algBw(size_t bytes, double timeUs) {
  return timeUs > 0 ? static_cast<double>(bytes) / timeUs / 1e3 : 0.0;
}

std::string formatHeader(const Options& o, const std::vector<RankInfo>& ranks) {
  bool byFactor = o.stepFactor > 1;
  std::string out = formatf(
      "# nThread %d nGpus %d minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d "
      "agg iters: %d validation: %d graph: %d unalign: %d\n",
      o.nthreads, o.ngpus, o.minBytes, o.maxBytes, byFactor ? o.stepFactor : o.stepBytes,
      byFactor ? "factor" : "bytes", o.warmupIters, o.iters, o.aggIters, o.checkIters,
      o.graphLaunches, o.unalign);
  out += flagLines(o);
  out += "#\n# Using devices\n";
  // Only where a run differs from the defaults, so that default output stays as it was.
  if (o.mem != MemKind::Host || o.ranksPerProcess() != 1 || o.graphLaunches != 0 ||
      o.registration != 0) {
    out += "#  Memory: " + memoryDescription(o.mem) + ", ranks: " + rankDescription(o) +
           ", CUDA graph: " +
           (o.graphLaunches > 0 ? std::to_string(o.graphLaunches) + " launches" : "off");
    if (o.registration != 0)
      out += o.registration == 1 ? ", registered: ncclCommRegister" : ", registered: window";
    out += "\n";
  }
  for (const RankInfo& r : ranks) {
    out += formatf("#  Rank %2d Group  0 Pid %6ld on %10s device %2d %s\n", r.rank, r.pid,
                   r.host.c_str(), r.device, r.deviceText.c_str());
  }
  out += "#\n";
  // --predict and -S append their columns, so the nccl-tests ones keep their positions.
  std::string names, units;
  if (o.predict) {
    names += formatf(" %9s %9s", "pred", "meas/pred");
    units += formatf(" %9s %9s", "(us)", "(oop)");
  }
  if (o.reportTimestamps) {
    names += formatf(" %19s", "timestamp");
    units += formatf(" %19s", "%Y-%m-%d %H:%M:%S");
  }
  if (!units.empty()) units = formatf("%7s", "") + units;  // past the in-place #wrong column
  const std::string time = formatf("%8s", o.reportCpuTime ? "cputime" : "time");
  out +=
      "#                                                              out-of-place                 "
      "      in-place\n"
      "#       size         count      type   redop    root " +
      time + "   algbw   busbw #wrong " + time + "   algbw   busbw #wrong" + names +
      "\n"
      "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            "
      "(us)  (GB/s)  (GB/s)" +
      units + "\n";
  return out;
}

std::string formatRow(const ResultRow& row, Collective collective, int nranks,
                      const std::string& timestamp) {
  double factor = busBandwidthFactor(collective, nranks);
  return formatf("%12zu  %12zu  %8s  %6s  %6d", row.bytes, row.count, row.type.c_str(),
                 row.redop.c_str(), row.root) +
         formatMeasurement(row.outOfPlace, row.bytes, factor) +
         formatMeasurement(row.inPlace, row.bytes, factor) + formatPrediction(row) +
         (timestamp.empty() ? "" : formatf(" %19s", timestamp.c_str())) + "\n";
}

std::string formatVersion(const std::string& program, const char* prismVersion, int ncclVersion) {
  // NCCL_VERSION(X, Y, Z) is X * 10000 + Y * 100 + Z from 2.9 on.
  return formatf("%s (Prism %s), NCCL API %d.%d.%d (%d)\n", program.c_str(), prismVersion,
                 ncclVersion / 10000, ncclVersion / 100 % 100, ncclVersion % 100, ncclVersion);
}

std::string formatFooter(int64_t wrong, double avgBusBw) {
  return formatf("# %-20s : %lld %s\n", "Out of bounds values", static_cast<long long>(wrong),
                 wrong == 0 ? "OK" : "FAILED") +
         formatf("# %-20s : %g \n", "Avg bus bandwidth", avgBusBw) + "#\n";
}

double Report::avgBusBw() const {
  if (rows_.empty()) return 0;
  double factor = busBandwidthFactor(collective_, nranks_);
  double sum = 0;
  for (const ResultRow& row : rows_) {
    sum += algBw(row.bytes, row.outOfPlace.timeUs) * factor;
    sum += algBw(row.bytes, row.inPlace.timeUs) * factor;
  }
  return sum / static_cast<double>(2 * rows_.size());
}

int64_t Report::totalWrong() const {
  int64_t total = 0;
  for (const ResultRow& row : rows_) {
    total += row.outOfPlace.wrong.value_or(0) + row.inPlace.wrong.value_or(0);
  }
  return total;
}

PlotSpec measuredPlot(const Report& report, const Options& options) {
  PlotSpec plot;
  const std::string ranks = std::to_string(report.nranks()) + " ranks";
  plot.title = std::string(cliName(report.collective())) + ", " + ranks + ", " +
               memKindName(options.mem) + " memory (prism-bench)";
  const double factor = busBandwidthFactor(report.collective(), report.nranks());
  for (const ResultRow& row : report.rows()) {
    std::string label = row.type;
    if (row.redop != "none") label += " " + row.redop;
    if (row.root >= 0) label += " root " + std::to_string(row.root);
    for (int inPlace = 0; inPlace < 2; ++inPlace) {
      const std::string name = label + (inPlace ? " in place" : " out of place");
      auto it = std::find_if(plot.series.begin(), plot.series.end(),
                             [&](const PlotSeries& s) { return s.name == name; });
      if (it == plot.series.end())
        it = plot.series.insert(plot.series.end(), PlotSeries{name, {}, false});
      const Measurement& m = inPlace ? row.inPlace : row.outOfPlace;
      if (row.bytes > 0 && m.timeUs > 0)
        it->points.push_back({static_cast<double>(row.bytes), algBw(row.bytes, m.timeUs) * factor});
    }
  }
  return plot;
}

}  // namespace prism::bench
