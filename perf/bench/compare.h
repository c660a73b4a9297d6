// `prism-bench ... --compare mpi`: after Prism's table, runs the MPI twin of prism-bench
// (prism-bench-mpi, built only where CMake finds MPI) under mpirun on the same sizes,
// iterations, data and busbw formula, and prints both side by side with their ratio.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "perf/bench/options.h"
#include "perf/bench/report.h"

namespace prism::bench {

/// One size as the peer measured it.
struct PeerRow {
  size_t bytes = 0;
  double timeUs = 0;
  double busBw = 0;
  int64_t wrong = 0;
};

struct PeerResult {
  std::string name;   ///< "Open MPI 4.1.4 (tuned allocator)"
  std::string error;  ///< why there are no rows, if there are none
  std::vector<PeerRow> rows;
};

/// Why `options` cannot be compared (collective, type or op MPI's twin lacks), or empty.
std::string compareUnsupported(const Options& options);

/// Runs prism-bench-mpi with mpirun on `options`' sizes. Never throws: failures are
/// reported in PeerResult::error.
PeerResult runMpiPeer(const Options& options);

/// Parses prism-bench-mpi's table rows (the nccl-tests row layout: size count type time
/// algbw busbw #wrong); comment lines are skipped.
std::vector<PeerRow> parsePeerRows(const std::string& text);

/// The side-by-side table: per size Prism's out-of-place time and busbw, the peer's, and
/// the ratio (peer time / Prism time up to 4 KiB, where latency decides; Prism busbw / peer
/// busbw above), then the median ratio.
std::string formatComparison(const Report& prism, const PeerResult& peer);

}  // namespace prism::bench
