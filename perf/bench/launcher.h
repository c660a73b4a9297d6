// Running the benchmark as N local ranks: this process is rank 0 and forks the others.
#pragma once

#include <nccl.h>

#include <functional>
#include <vector>

namespace prism::bench {

/// What a rank knows when it starts.
struct RankContext {
  int rank = 0;
  int nranks = 1;
  ncclUniqueId id{};       ///< created by rank 0 before any fork
  std::vector<long> pids;  ///< every rank's pid; complete only on rank 0
};

/// A rank's whole life; returns its exit status.
using RankMain = std::function<int(const RankContext&)>;

/// Creates the unique id, forks ranks 1..nranks-1 (each runs `body` and _exits), runs
/// rank 0 here and waits for the others. Returns 0 only if every rank returned 0. A
/// rank that dies or fails does not hang the run: the survivors are killed after a grace
/// period and the result is nonzero.
int launchLocalRanks(int nranks, const RankMain& body);

}  // namespace prism::bench
