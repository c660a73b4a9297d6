#include "perf/bench/json_report.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace prism::bench {
namespace {

nlohmann::json measurementToJson(const Measurement& m, size_t bytes, double factor) {
  double alg = algBw(bytes, m.timeUs);
  nlohmann::json j{{"time_us", m.timeUs}, {"algbw_gbps", alg}, {"busbw_gbps", alg * factor}};
  j["wrong"] = m.wrong ? nlohmann::json(*m.wrong) : nlohmann::json(nullptr);
  return j;
}

}  // namespace

nlohmann::json reportToJson(const Report& report, const Options& options) {
  double factor = busBandwidthFactor(report.collective(), report.nranks());
  nlohmann::json results = nlohmann::json::array();
  for (const ResultRow& row : report.rows()) {
    nlohmann::json result{{"size", row.bytes},
                          {"count", row.count},
                          {"type", row.type},
                          {"redop", row.redop},
                          {"root", row.root},
                          {"out_of_place", measurementToJson(row.outOfPlace, row.bytes, factor)},
                          {"in_place", measurementToJson(row.inPlace, row.bytes, factor)}};
    if (row.predictedUs) {
      result["predicted_us"] = *row.predictedUs;
      result["measured_over_predicted"] = {
          {"out_of_place", measuredOverPredicted(row.outOfPlace.timeUs, *row.predictedUs)},
          {"in_place", measuredOverPredicted(row.inPlace.timeUs, *row.predictedUs)}};
    }
    results.push_back(std::move(result));
  }
  nlohmann::json opts{{"minbytes", options.minBytes},
                      {"maxbytes", options.maxBytes},
                      {"stepbytes", options.stepBytes},
                      {"stepfactor", options.stepFactor},
                      {"iters", options.iters},
                      {"warmup_iters", options.warmupIters},
                      {"check", options.check},
                      {"blocking", options.blocking},
                      {"average", static_cast<int>(options.average)},
                      {"nprocs", options.nranks},
                      {"nthreads", options.nthreads},
                      {"mem", memKindName(options.mem)},
                      {"cudagraph", options.graphLaunches},
                      {"predict", options.predict}};
  return {{"collective", cliName(report.collective())},
          {"nranks", report.nranks()},
          {"options", opts},
          {"results", results},
          {"avg_busbw_gbps", report.avgBusBw()},
          {"wrong", report.totalWrong()}};
}

bool writeJsonReport(const std::string& path, const Report& report, const Options& options) {
  std::ofstream file(path);
  if (file) file << reportToJson(report, options).dump(2) << "\n";
  if (!file) {
    std::fprintf(stderr, "prism-bench: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace prism::bench
