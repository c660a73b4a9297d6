// Running one process's ranks as threads (prism-bench -t), as nccl-tests does.
#pragma once

#include "perf/bench/launcher.h"

namespace prism::bench {

/// Runs ranks process*nthreads .. process*nthreads + nthreads-1 of `process`, each on a
/// thread of its own with its own copy of `process` (rank filled in), and returns the
/// worst status. With several threads, each first binds itself to its share of the
/// process's CPUs (prismBindThread), so a rank's communicator threads start bound. Once a rank has
/// failed, the others get a grace period to fail on their own (a peer blocked in a collective
/// usually does); past it the whole process _exits with that status, since a thread blocked in a
/// call cannot be stopped otherwise.
int runThreadRanks(const RankContext& process, const RankMain& body);

}  // namespace prism::bench
