// Runs the ranks of one job as child processes and decides prism-run's exit status.
#pragma once

#include <chrono>
#include <vector>

#include "tools/prism-run/process.h"

namespace prism::run {

/// Starts every rank (rank r is ranks[r]), forwards SIGINT/SIGTERM/SIGHUP to all of them,
/// and waits. When a rank fails, it says which and how, gives the others `grace` to end on
/// their own, then kills them. Returns 0 when every rank exited 0, else the first failing
/// rank's status (128 + signal when it was killed), or 128 + the signal prism-run received.
/// With `tagOutput`, every line the ranks write comes out tagged with its rank
/// (output_tags.h).
int runRankGroup(std::vector<SpawnSpec> ranks, std::chrono::milliseconds grace,
                 bool tagOutput = false);

}  // namespace prism::run
