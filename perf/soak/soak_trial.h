// One trial of the fault soak: N forked ranks run a seeded random sequence of verified
// collectives; the driver kills one of them at a random moment; the survivors must fail
// promptly, blame the dead rank, then shrink the communicator and run a verified allreduce.
#pragma once

#include <cstdint>
#include <string>

#include "nccl.h"

namespace prism::soak {

/// What one rank reports, in memory shared with the driver.
struct RankRecord {
  int ready;          ///< the communicator is up; the driver may start the clock
  int result;         ///< the failing call's result (ncclSuccess: no call failed)
  int async;          ///< ncclCommGetAsyncError after the failure
  int wrong;          ///< collectives that returned ncclSuccess with wrong data
  int shrink;         ///< ncclCommShrink's result
  int shrunkOk;       ///< the verified allreduce on the shrunk communicator passed
  int calls;          ///< collectives completed before the failure
  double failedAt;    ///< CLOCK_MONOTONIC seconds when the failing call returned
  char message[512];  ///< ncclGetLastError of the failing call
  char shrinkMessage[256];
};

/// Everything the ranks of one trial share.
struct TrialBoard {
  ncclUniqueId id;
  int nranks;
  int victim;
  uint64_t seed;
  double killedAt;  ///< when the driver sent SIGKILL, CLOCK_MONOTONIC seconds
  RankRecord ranks[16];
};

/// CLOCK_MONOTONIC in seconds.
double now();

/// The body of rank `rank`: never returns (exits the process).
[[noreturn]] void runRank(TrialBoard& board, int rank);

/// The rank a failure message blames: the first "rank R (pid" or "connection to rank R
/// lost" in it, or -1.
int blamedRank(const std::string& message);

}  // namespace prism::soak
