// One rank's benchmark: create the communicator, sweep types x operators x roots x sizes,
// time each size out of place and in place, validate, and (on rank 0) print the report.
#pragma once

#include "perf/bench/launcher.h"
#include "perf/bench/options.h"

namespace prism::bench {

/// Runs every measurement `options` asks for as `context.rank`. Returns 0 on success, 1
/// when a call failed or a result was wrong, 2 on a setup error (no CUDA device, a CUDA
/// graph that cannot be captured). Every rank must be running it.
int runRank(const Options& options, const RankContext& context);

}  // namespace prism::bench
