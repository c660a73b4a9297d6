// The multi-rank harness: runs one body on every rank of a fresh communicator, either as
// threads of this process or as forked processes, and turns a failure of any rank into a
// GoogleTest failure reading "rank R: <message>".
//
// Inside a body never use gtest assertions (a forked child cannot report them): use
// RankContext::require / expect / requireOk instead. They record a message; require also
// throws, which ends the rank and, through the shared barrier, stops its peers.
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "nccl.h"
#include "tests/harness/shared_board.h"

namespace prism::test {

enum class Mode { Threads, Processes };

const char* modeName(Mode mode);

/// Thrown by RankContext::fail and require; carries the rank's own failure message.
class RankFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RankContext;

struct RunOptions {
  /// Initialize RankContext::comm with ncclCommInitRank before the body runs and destroy it
  /// afterwards. Turn off to test communicator creation itself.
  bool initComm = true;
  /// The whole run must end within this time; stuck ranks are reported (and, as
  /// processes, killed).
  std::chrono::seconds timeout{120};
  /// After the first rank fails, the others get this long to finish before they are
  /// declared stuck.
  std::chrono::seconds graceAfterFailure{30};
  /// Bytes of zeroed memory shared by all ranks (RankContext::shared).
  size_t sharedBytes = 0;
  /// Runs first on each rank (its thread or its process), before the communicator is
  /// created: for example to select the rank's CUDA device, which NCCL binds at init.
  std::function<void(RankContext&)> rankSetup;
};

class RankContext {
 public:
  RankContext(int rank, int nranks, Mode mode, const ncclUniqueId& id, SharedBoard& board,
              std::chrono::milliseconds barrierTimeout);

  int rank;
  int nranks;
  Mode mode;
  ncclUniqueId id;
  /// This rank's communicator (null when RunOptions::initComm is off). The harness
  /// destroys it after the body; a body that destroys it itself must set it to null.
  ncclComm_t comm = nullptr;

  /// Memory shared by every rank of this run (RunOptions::sharedBytes long).
  void* shared() { return board_.scratch(); }
  size_t sharedBytes() const { return board_.scratchBytes(); }

  /// Waits for every rank. Throws PeerFailed if another rank failed.
  void barrier();

  /// Records `message` as this rank's failure and ends the rank.
  [[noreturn]] void fail(const std::string& message);
  void require(bool condition, const std::string& message) {
    if (!condition) fail(message);
  }
  /// Records `message` as a failure but lets the rank go on. Returns `condition`.
  bool expect(bool condition, const std::string& message);
  /// require(result == ncclSuccess) with the call, the result and ncclGetLastError.
  void requireOk(ncclResult_t result, const std::string& call);
  /// require(result == expected), same message style.
  void requireResult(ncclResult_t result, ncclResult_t expected, const std::string& call);

  /// Failures recorded by expect (and by fail), capped at kMaxMessages entries.
  const std::vector<std::string>& failures() const { return failures_; }
  size_t failureCount() const { return failureCount_; }

  static constexpr size_t kMaxMessages = 12;

 private:
  void record(const std::string& message);

  SharedBoard& board_;
  std::chrono::milliseconds barrierTimeout_;
  std::vector<std::string> failures_;
  size_t failureCount_ = 0;
};

/// Runs `body` on `nranks` ranks of one communicator. The harness calls ncclGetUniqueId
/// once, in this process, before any rank starts (before the fork in Processes mode).
/// Every failure is reported with ADD_FAILURE as "rank R: <message>".
void runRanks(int nranks, Mode mode, const std::function<void(RankContext&)>& body,
              const RunOptions& options = {});

/// "ncclInvalidArgument (4)".
std::string resultName(ncclResult_t result);

}  // namespace prism::test
