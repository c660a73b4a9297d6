#include "perf/bench/nccl_tests_json.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include "perf/bench/formatf.h"

namespace prism::bench {
namespace {

// nccl-tests writes booleans as strings.
const char* boolString(bool value) { return value ? "true" : "false"; }

nlohmann::ordered_json placement(const Measurement& m, size_t bytes, double factor, bool cpuTime) {
  const double alg = algBw(bytes, m.timeUs);
  nlohmann::ordered_json j;
  j[cpuTime ? "cpu_time" : "time"] = m.timeUs;
  j["alg_bw"] = alg;
  j["bus_bw"] = alg * factor;
  j["nwrong"] = m.wrong ? nlohmann::ordered_json(static_cast<double>(*m.wrong))
                        : nlohmann::ordered_json(nullptr);
  return j;
}

// "#  Rank  0 ... device  0 [0000:1b:00] NVIDIA H100" splits the text after the device
// number into the bracketed part and the rest; prism-bench's host ranks read "[host] host
// memory".
nlohmann::ordered_json device(const RankInfo& r) {
  std::string hex, info = r.deviceText;
  if (info.starts_with('[')) {
    const size_t close = info.find(']');
    if (close != std::string::npos) {
      hex = info.substr(1, close - 1);
      info = info.substr(std::min(info.size(), close + 2));
    }
  }
  nlohmann::ordered_json j;
  j["rank"] = r.rank;
  j["group"] = 0;
  j["pid"] = r.pid;
  j["hostname"] = r.host;
  j["device"] = r.device;
  j["device_hex"] = hex;
  j["device_info"] = info;
  return j;
}

nlohmann::ordered_json config(const Options& o, const std::vector<RankInfo>& ranks) {
  nlohmann::ordered_json j;
  j["nthreads"] = o.nthreads;
  j["ngpus"] = o.ngpus;
  j["minimum_bytes"] = o.minBytes;
  j["maximum_bytes"] = o.maxBytes;
  if (o.stepFactor > 1) {
    j["step_factor"] = o.stepFactor;
  } else {
    j["step_bytes"] = o.stepBytes;
  }
  j["warmup_iters"] = o.warmupIters;
  j["iterations"] = o.iters;
  j["aggregated_iterations"] = o.aggIters;
  j["validation"] = o.checkIters;
  j["graph"] = o.graphLaunches;
  j["blocking_collectives"] = boolString(o.blockingMode != 0);
  j["per_iter_timing"] = boolString(o.perIterTiming != 0);
  j["per_iter_skip"] = o.perIterSkip;
  j["parallel_init"] = boolString(o.parallelInit);
  nlohmann::ordered_json devices = nlohmann::ordered_json::array();
  for (const RankInfo& r : ranks) devices.push_back(device(r));
  j["devices"] = std::move(devices);
  return j;
}

}  // namespace

nlohmann::ordered_json ncclTestsJson(const Report& report, const Options& options,
                                     const NcclTestsRun& run) {
  const double factor = busBandwidthFactor(report.collective(), report.nranks());
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const ResultRow& row : report.rows()) {
    nlohmann::ordered_json r;
    r["size"] = row.bytes;
    r["count"] = row.count;
    r["type"] = row.type;
    r["redop"] = row.redop;
    r["root"] = formatf("%6i", row.root);
    r["out_of_place"] = placement(row.outOfPlace, row.bytes, factor, options.reportCpuTime);
    r["in_place"] = placement(row.inPlace, row.bytes, factor, options.reportCpuTime);
    r["actual_iterations"] = options.iters;
    r["experiment_name"] = "";
    results.push_back(std::move(r));
  }
  nlohmann::ordered_json j;
  j["version"] = 3;
  j["start_time"] = run.startTime;
  j["args"] = run.args;
  j["env"] = run.env;
  j["nccl_version"] = run.ncclVersion;
  j["config"] = config(options, run.ranks);
  j["results"] = std::move(results);
  const int64_t wrong = report.totalWrong();
  j["out_of_bounds"] = {{"count", wrong}, {"okay", boolString(wrong == 0)}};
  // nccl-tests compares against NCCL_TESTS_MIN_BW when set; prism-bench never does.
  j["average_bus_bandwidth"] = {{"bandwidth", report.avgBusBw()}, {"okay", "unchecked"}};
  j["errors"] = run.errors;
  j["end_time"] = run.endTime;
  return j;
}

std::optional<std::string> claimOutputFile(const std::string& path, std::ostream& out) {
  const size_t dot = path.rfind('.');
  const size_t slash = path.rfind('/');
  std::string extension = dot == std::string::npos || (slash != std::string::npos && dot < slash)
                              ? ""
                              : path.substr(dot + 1);
  for (char& ch : extension) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (extension != "json") {
    out << "# skipping output file " << path << ": only .json is written (-J)\n";
    return std::nullopt;
  }
  std::string candidate = path;
  for (int attempt = 0;; ++attempt) {
    const int fd = open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      close(fd);
      out << "# Writing JSON output to " << candidate << "\n";
      return candidate;
    }
    if (errno != EEXIST) {
      out << "# skipping json output; " << candidate << " not accessible\n";
      return std::nullopt;
    }
    candidate = path + "." + std::to_string(attempt);
  }
}

bool writeJsonDocument(const std::string& path, const nlohmann::ordered_json& document,
                       std::ostream& err) {
  std::ofstream file(path);
  if (file) file << document.dump(2) << "\n";
  if (!file) {
    err << "prism-bench: cannot write " << path << ": " << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

std::string localTimeString() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

}  // namespace prism::bench
