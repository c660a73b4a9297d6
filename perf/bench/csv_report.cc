#include "perf/bench/csv_report.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "perf/bench/formatf.h"

namespace prism::bench {
namespace {

std::string placementCells(const Measurement& m, size_t bytes, double factor) {
  const double alg = algBw(bytes, m.timeUs);
  return formatf(",%.3f,%.6g,%.6g,", m.timeUs, alg, alg * factor) +
         (m.wrong ? std::to_string(*m.wrong) : "");
}

}  // namespace

std::string csvHeader(const Options& options) {
  const char* time = options.reportCpuTime ? "cputime_us" : "time_us";
  std::string header = "start_time,collective,nranks,size,count,type,redop,root";
  for (const char* placement : {"oop_", "ip_"}) {
    for (const char* column : {time, "algbw_gbps", "busbw_gbps", "wrong"})
      header += std::string(",") + placement + column;
  }
  return header + "\n";
}

std::string csvRows(const Report& report, std::string_view startTime) {
  const double factor = busBandwidthFactor(report.collective(), report.nranks());
  std::string out;
  for (const ResultRow& row : report.rows()) {
    out += std::string(startTime) + "," + cliName(report.collective()) + "," +
           std::to_string(report.nranks()) + "," + std::to_string(row.bytes) + "," +
           std::to_string(row.count) + "," + row.type + "," + row.redop + "," +
           std::to_string(row.root) + placementCells(row.outOfPlace, row.bytes, factor) +
           placementCells(row.inPlace, row.bytes, factor) + "\n";
  }
  return out;
}

bool writeCsv(const std::string& path, bool append, const Report& report, const Options& options,
              std::string_view startTime, std::ostream& err) {
  std::ofstream file(path, append ? std::ios::app : std::ios::trunc);
  // Appending to a file that has lines already: they start with the header.
  const bool needsHeader = !append || (file && file.tellp() == 0);
  if (file) file << (needsHeader ? csvHeader(options) : "") << csvRows(report, startTime);
  file.flush();
  if (!file) {
    err << "prism-bench: cannot write " << path << ": " << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

}  // namespace prism::bench
