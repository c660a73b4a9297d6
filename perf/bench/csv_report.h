// --csv and --cumulative_csv (-u FILE): the result rows as CSV, one line per row of the
// text table, for spreadsheets and scripts.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "perf/bench/options.h"
#include "perf/bench/report.h"

namespace prism::bench {

/// start_time,collective,nranks,size,count,type,redop,root, then per placement (oop_ out
/// of place, ip_ in place) time_us (cputime_us with -C),algbw_gbps,busbw_gbps,wrong.
/// "wrong" is empty where nothing was checked.
std::string csvHeader(const Options& options);

/// One line per row of `report`, each starting with `startTime` (localTimeString), so the
/// runs appended to one cumulative file stay apart.
std::string csvRows(const Report& report, std::string_view startTime);

/// Writes the header and rows to `path`; appending, the header only goes into an empty
/// or new file. False (with a message on `err`) if the file cannot be written.
bool writeCsv(const std::string& path, bool append, const Report& report, const Options& options,
              std::string_view startTime, std::ostream& err);

}  // namespace prism::bench
