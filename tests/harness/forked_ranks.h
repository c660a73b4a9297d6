// Ranks as hand-forked processes, for tests where a rank must die, stop or misbehave in
// ways the harness of rank_runner.h would report as a failure of the test itself. Each
// child runs one body and reports through shared memory.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "nccl.h"

namespace prism::test {

/// What a hand-forked rank reports back.
struct Report {
  int result;
  int async;  ///< ncclCommGetAsyncError after the failure, where a body records it
  int pid;    ///< the child's, filled in before its body runs
  int hosts[4];
  char transport[32];
  char message[400];
  double seconds;  ///< a duration the body measured, where it records one
};

/// Forks one child per body; each returns through its Report in shared memory. Children
/// still running after `limit` are killed, and so is every child marked in `straggler`
/// once all unmarked children have exited (a rank stopped on purpose). Returns the reports
/// and, in `exited`, whether each child exited normally.
std::vector<Report> forkAll(const std::vector<std::function<void(Report&)>>& bodies,
                            std::chrono::seconds limit, std::vector<bool>* exited,
                            const std::vector<bool>& straggler = {});

/// Records `result`, ncclGetLastError(comm) and (with a communicator)
/// ncclCommGetAsyncError in `r`.
void noteError(Report& r, ncclResult_t result, ncclComm_t comm);

}  // namespace prism::test
