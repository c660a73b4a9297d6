// prism-bench's output: the nccl-tests text layout (header, one row per size, summary)
// built from plain result records, so it can be tested without running anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "perf/bench/collectives.h"
#include "perf/bench/options.h"
#include "perf/bench/plot.h"

namespace prism::bench {

/// One placement (out-of-place or in-place) of one size.
struct Measurement {
  double timeUs = 0;             ///< per iteration, combined over ranks as -a asks
  std::optional<int64_t> wrong;  ///< mismatching elements over all ranks; empty: not checked
};

/// One printed row.
struct ResultRow {
  size_t bytes = 0;   ///< Layout::reportedBytes
  size_t count = 0;   ///< Layout::count
  std::string type;   ///< dataTypeName
  std::string redop;  ///< benchOpName, or "none"
  int root = -1;      ///< -1 where no root applies
  Measurement outOfPlace;
  Measurement inPlace;
  /// --predict: the cost model's time for the call (ncclGroupSimulateEnd), microseconds.
  std::optional<double> predictedUs;
};

/// A rank as listed under "# Using devices".
struct RankInfo {
  int rank = 0;
  long pid = 0;
  std::string host;
  int device = -1;                                ///< -1: no device
  std::string deviceText = "[host] host memory";  ///< what follows the device number
};

/// Measured time over predicted time; 0 when nothing was predicted.
double measuredOverPredicted(double measuredUs, double predictedUs);

/// Bytes per microsecond as GB/s (1 GB = 1e9 bytes); 0 for a zero time.
double algBw(size_t bytes, double timeUs);

/// The comment block before the rows: parameters, ranks and the two column-header lines.
/// Where memory, threads or graphs differ from the defaults, a "#  Memory: ..." line
/// under "# Using devices" says how. --predict adds the two prediction column headers,
/// -S a timestamp column, -C names the time columns "cputime". nccl-tests flags that are
/// set but change nothing on Prism each get a line saying so, as do -z, -p and -T.
std::string formatHeader(const Options& options, const std::vector<RankInfo>& ranks);
/// One result row, ending in a newline. With a prediction, two columns follow the
/// nccl-tests ones, so that their positions stay: pred(us) and out-of-place time / pred.
/// A non-empty `timestamp` (-S) ends the row.
std::string formatRow(const ResultRow& row, Collective collective, int nranks,
                      const std::string& timestamp = "");
/// The closing lines: total wrong values and the mean bus bandwidth over all placements.
std::string formatFooter(int64_t wrong, double avgBusBw);
/// --version: "<program> (Prism <prismVersion>), NCCL API <major>.<minor>.<patch>
/// (<ncclVersion>)", one line; ncclVersion is ncclGetVersion's code.
std::string formatVersion(const std::string& program, const char* prismVersion, int ncclVersion);

class Report;
/// --plot of a measured sweep: out-of-place and in-place busbw per size, one pair of lines
/// per (type, operator, root) the sweep covered.
PlotSpec measuredPlot(const Report& report, const Options& options);

/// The rows of one run and the summary figures over them.
class Report {
 public:
  Report(Collective collective, int nranks) : collective_(collective), nranks_(nranks) {}

  void add(ResultRow row) { rows_.push_back(std::move(row)); }
  const std::vector<ResultRow>& rows() const { return rows_; }
  Collective collective() const { return collective_; }
  int nranks() const { return nranks_; }
  /// Mean busbw over every out-of-place and in-place measurement (0 with no rows).
  double avgBusBw() const;
  /// Sum of #wrong over all measurements that were checked.
  int64_t totalWrong() const;

 private:
  Collective collective_;
  int nranks_;
  std::vector<ResultRow> rows_;
};

}  // namespace prism::bench
