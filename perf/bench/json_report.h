// The --json output: the same results as the text table, as one JSON document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "perf/bench/options.h"
#include "perf/bench/report.h"

namespace prism::bench {

/// {"collective", "nranks" (all ranks: processes x threads), "options": {..., "nprocs",
/// "nthreads", "mem", "cudagraph"}, "results": [{"size", "count", "type",
/// "redop", "root", "out_of_place": {"time_us", "algbw_gbps", "busbw_gbps", "wrong"},
/// "in_place": {...}}], "avg_busbw_gbps", "wrong"}. "wrong" is null where unchecked.
/// With --predict each result also has "predicted_us" and "measured_over_predicted":
/// {"out_of_place", "in_place"} (measured time / predicted time).
nlohmann::json reportToJson(const Report& report, const Options& options);

/// Writes reportToJson to `path`; false (with a message on stderr) if it cannot.
bool writeJsonReport(const std::string& path, const Report& report, const Options& options);

}  // namespace prism::bench
