// Running the benchmark as local ranks: this process is process 0 and forks the others;
// every process runs its share of the ranks, as threads when there are several.
#pragma once

#include <functional>
#include <vector>

#include "nccl.h"

namespace prism::bench {

/// What a rank knows when it starts.
struct RankContext {
  int rank = 0;            ///< process * nthreads + thread
  int nranks = 1;          ///< processes x threads
  int process = 0;         ///< which forked process runs this rank (0: the launching one)
  int nthreads = 1;        ///< ranks per process
  ncclUniqueId id{};       ///< created by process 0 before any fork
  std::vector<long> pids;  ///< every process's pid; complete only in process 0 of a fork
  bool launched = false;   ///< started by a launcher: other processes' pids are unknown
};

/// A rank's whole life; returns its exit status: 0 success, 1 failure, 2 a setup error
/// the user can fix (no CUDA device, a CUDA graph that cannot be captured).
using RankMain = std::function<int(const RankContext&)>;

/// Creates the unique id, forks processes 1..nprocs-1, then runs `nthreads` ranks in
/// every process (each runs `body`; a process _exits with the worst status of its ranks)
/// and waits for the others. Every process binds itself to its cores first (prismBindProcess
/// as local process p of nprocs, nthreads cores wide), so its threads inherit the binding.
/// Returns 0 only if every rank returned 0, else the largest status any rank returned (1
/// for a process that died). A rank that dies or fails does not hang the run: the
/// survivors are killed after a grace period.
int launchLocalRanks(int nprocs, int nthreads, const RankMain& body);

/// The launcher-world variant (prism-run, mpirun, srun, torchrun started every process):
/// this process is `process` of `nprocs` and runs `nthreads` ranks of the world `id` names,
/// as threads when there are several. The process keeps the CPUs the launcher gave it
/// (prism-run's PRISM_CPU_LIST). Nothing is forked; the launcher waits for the
/// processes and decides the job's status. Returns this process's worst rank status.
int runLaunchedRanks(int process, int nprocs, int nthreads, const ncclUniqueId& id,
                     const RankMain& body);

}  // namespace prism::bench
