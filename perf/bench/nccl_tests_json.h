// -J/--output_file: the JSON document nccl-tests writes (its src/util.cu, JSON_FILE_VERSION
// 3), with the same keys in the same order, so tools written for nccl-tests' files read
// prism-bench's. Booleans are the strings "true" and "false" there, as nccl-tests writes
// them; every other value has its JSON type.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "perf/bench/options.h"
#include "perf/bench/report.h"

namespace prism::bench {

/// What the document records beyond the options and the rows.
struct NcclTestsRun {
  std::vector<std::string> args;  ///< the command line, argv[0] first
  std::vector<std::string> env;   ///< "NAME=value" for every variable
  int ncclVersion = 0;            ///< ncclGetVersion
  std::string startTime;          ///< localTimeString() when the run started
  std::string endTime;
  std::vector<RankInfo> ranks;      ///< "config"."devices"
  std::vector<std::string> errors;  ///< ncclGetLastError, where there was one
};

/// {"version": 3, "start_time", "args": [...], "env": [...], "nccl_version",
///  "config": {"nthreads", "ngpus", "minimum_bytes", "maximum_bytes", "step_factor" (or
///   "step_bytes"), "warmup_iters", "iterations", "aggregated_iterations", "validation",
///   "graph", "blocking_collectives", "per_iter_timing", "per_iter_skip", "parallel_init",
///   "devices": [{"rank", "group", "pid", "hostname", "device", "device_hex",
///   "device_info"}]},
///  "results": [{"size", "count", "type", "redop", "root" (a string, "%6i"),
///   "out_of_place": {"time" (or "cpu_time" with -C), "alg_bw", "bus_bw", "nwrong" (null
///   where unchecked)}, "in_place": {...}, "actual_iterations", "experiment_name"}],
///  "out_of_bounds": {"count", "okay"}, "average_bus_bandwidth": {"bandwidth", "okay":
///  "unchecked"}, "errors": [...], "end_time"}
nlohmann::ordered_json ncclTestsJson(const Report& report, const Options& options,
                                     const NcclTestsRun& run);

/// nccl-tests' choice of file: only a name ending in ".json" (any case) is written; an
/// existing file is never replaced, and PATH.0, PATH.1, ... are tried instead. Creates the
/// file it picks and returns its name, after printing "# Writing JSON output to NAME" to
/// `out`; or prints why nothing will be written and returns empty.
std::optional<std::string> claimOutputFile(const std::string& path, std::ostream& out);

/// Writes `document` to `path`; false (with a message on `err`) if it cannot.
bool writeJsonDocument(const std::string& path, const nlohmann::ordered_json& document,
                       std::ostream& err);

/// The local time as nccl-tests prints it: "%Y-%m-%d %H:%M:%S".
std::string localTimeString();

}  // namespace prism::bench
