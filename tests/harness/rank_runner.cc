#include "tests/harness/rank_runner.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <thread>

namespace prism::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string joinFailures(const RankContext& ctx) {
  const auto& list = ctx.failures();
  if (list.empty()) return "failed without a message";
  if (list.size() == 1 && ctx.failureCount() == 1) return list.front();
  std::ostringstream out;
  out << ctx.failureCount() << " failures:";
  for (const auto& m : list) out << "\n    " << m;
  if (ctx.failureCount() > list.size()) {
    out << "\n    ... and " << ctx.failureCount() - list.size() << " more";
  }
  return out.str();
}

// Everything one rank does: create the communicator, run the body, tear down, and post
// the outcome on the board. Never throws.
void rankMain(RankContext& ctx, const std::function<void(RankContext&)>& body,
              const RunOptions& options, SharedBoard& board) {
  bool threw = false;
  bool stoppedByPeer = false;
  try {
    if (options.rankSetup) options.rankSetup(ctx);
    if (options.initComm) {
      ctx.requireOk(ncclCommInitRank(&ctx.comm, ctx.nranks, ctx.id, ctx.rank),
                    "ncclCommInitRank(nranks=" + std::to_string(ctx.nranks) +
                        ", rank=" + std::to_string(ctx.rank) + ")");
      ctx.require(ctx.comm != nullptr, "ncclCommInitRank returned success and a null comm");
    }
    body(ctx);
    if (ctx.comm != nullptr) {
      ncclComm_t comm = ctx.comm;
      ctx.comm = nullptr;
      ctx.requireOk(ncclCommDestroy(comm), "ncclCommDestroy");
    }
  } catch (const RankFailure&) {
    threw = true;
  } catch (const PeerFailed&) {
    threw = true;
    stoppedByPeer = true;
  } catch (const std::exception& e) {
    threw = true;
    ctx.expect(false, std::string("uncaught exception: ") + e.what());
  } catch (...) {
    threw = true;
    ctx.expect(false, "uncaught exception of unknown type");
  }
  // After a throw the peers may be in the middle of an operation: abort, which is local,
  // instead of a destroy.
  if (threw && ctx.comm != nullptr) {
    ncclCommAbort(ctx.comm);
    ctx.comm = nullptr;
  }
  if (ctx.failureCount() > 0) {
    board.finish(ctx.rank, RankState::Failed, joinFailures(ctx));
  } else if (stoppedByPeer) {
    board.finish(ctx.rank, RankState::Stopped, "");
  } else {
    board.finish(ctx.rank, RankState::Passed, "");
  }
}

// What the parent knows about each rank when the run is over.
struct Outcome {
  bool finished = false;    // the rank posted a state (or its process exited)
  bool timedOut = false;    // still running at the deadline
  int exitStatus = 0;       // processes only: waitpid status
  bool haveStatus = false;  // processes only
};

void report(int nranks, Mode mode, const SharedBoard& board, const std::vector<Outcome>& out,
            const RunOptions& options) {
  const bool someoneFailed = board.anyFailed();
  for (int r = 0; r < nranks; ++r) {
    const RankState state = board.state(r);
    const std::string prefix = "rank " + std::to_string(r) + ": ";
    if (state == RankState::Failed) {
      ADD_FAILURE() << prefix << board.message(r);
      continue;
    }
    if (state == RankState::Stopped) {
      if (!someoneFailed) ADD_FAILURE() << prefix << "stopped although no rank reported a failure";
      continue;
    }
    if (state == RankState::Passed) {
      if (out[r].haveStatus &&
          !(WIFEXITED(out[r].exitStatus) && WEXITSTATUS(out[r].exitStatus) == 0)) {
        ADD_FAILURE() << prefix << "passed but its process ended with status " << out[r].exitStatus;
      }
      continue;
    }
    // Still Running on the board: it crashed, or it hung.
    if (out[r].timedOut) {
      ADD_FAILURE() << prefix << "did not finish"
                    << (someoneFailed ? " after another rank failed" : "") << " within "
                    << options.timeout.count() << " s ("
                    << (mode == Mode::Processes ? "process killed" : "thread left running") << ")";
    } else if (out[r].haveStatus && WIFSIGNALED(out[r].exitStatus)) {
      const int sig = WTERMSIG(out[r].exitStatus);
      ADD_FAILURE() << prefix << "process killed by signal " << sig << " (" << strsignal(sig)
                    << ")";
    } else if (out[r].haveStatus) {
      ADD_FAILURE() << prefix << "process exited with status " << WEXITSTATUS(out[r].exitStatus)
                    << " without reporting";
    } else {
      ADD_FAILURE() << prefix << "ended without reporting a result";
    }
  }
}

// Shrinks the deadline once some rank has failed: survivors only get the grace period.
Clock::time_point effectiveDeadline(Clock::time_point deadline, const SharedBoard& board,
                                    Clock::time_point& failureSeen, const RunOptions& options) {
  if (board.anyFailed() && failureSeen == Clock::time_point{}) failureSeen = Clock::now();
  if (failureSeen == Clock::time_point{}) return deadline;
  return std::min(deadline, failureSeen + options.graceAfterFailure);
}

void runThreads(int nranks, const ncclUniqueId& id, const std::function<void(RankContext&)>& body,
                const RunOptions& options, SharedBoard& board, std::vector<Outcome>& out,
                bool& leaked) {
  // Contexts live on the heap: a stuck thread is detached and must not outlive them.
  auto contexts = std::make_shared<std::vector<std::unique_ptr<RankContext>>>();
  for (int r = 0; r < nranks; ++r) {
    contexts->push_back(std::make_unique<RankContext>(
        r, nranks, Mode::Threads, id, board,
        std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout)));
  }
  auto sharedBody = std::make_shared<std::function<void(RankContext&)>>(body);
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r) {
    threads.emplace_back([contexts, sharedBody, options, &board, r] {
      rankMain(*(*contexts)[r], *sharedBody, options, board);
    });
  }
  const auto deadline = Clock::now() + options.timeout;
  Clock::time_point failureSeen{};
  for (;;) {
    int running = 0;
    for (int r = 0; r < nranks; ++r) running += board.state(r) == RankState::Running;
    if (running == 0) break;
    if (Clock::now() > effectiveDeadline(deadline, board, failureSeen, options)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (int r = 0; r < nranks; ++r) {
    if (board.state(r) == RankState::Running) {
      out[r].timedOut = true;
      threads[r].detach();
      leaked = true;
    } else {
      threads[r].join();
      out[r].finished = true;
    }
  }
}

void runProcesses(int nranks, const ncclUniqueId& id, const std::function<void(RankContext&)>& body,
                  const RunOptions& options, SharedBoard& board, std::vector<Outcome>& out) {
  std::vector<pid_t> pids(nranks, -1);
  std::fflush(nullptr);  // nothing buffered may be written twice
  for (int r = 0; r < nranks; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      RankContext ctx(r, nranks, Mode::Processes, id, board,
                      std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout));
      rankMain(ctx, body, options, board);
      std::fflush(nullptr);
      _exit(board.state(r) == RankState::Passed ? 0 : 1);
    }
    if (pid < 0) {
      board.finish(r, RankState::Failed, std::string("fork failed: ") + strerror(errno));
      break;
    }
    pids[r] = pid;
  }
  const auto deadline = Clock::now() + options.timeout;
  Clock::time_point failureSeen{};
  int live = 0;
  for (pid_t p : pids) live += p > 0;
  while (live > 0) {
    for (int r = 0; r < nranks; ++r) {
      if (pids[r] <= 0 || out[r].haveStatus) continue;
      int status = 0;
      if (waitpid(pids[r], &status, WNOHANG) == pids[r]) {
        out[r].exitStatus = status;
        out[r].haveStatus = true;
        out[r].finished = true;
        --live;
      }
    }
    if (live == 0) break;
    if (Clock::now() > effectiveDeadline(deadline, board, failureSeen, options)) {
      for (int r = 0; r < nranks; ++r) {
        if (pids[r] <= 0 || out[r].haveStatus) continue;
        kill(pids[r], SIGKILL);
        waitpid(pids[r], &out[r].exitStatus, 0);
        out[r].timedOut = true;
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

const char* modeName(Mode mode) { return mode == Mode::Threads ? "threads" : "processes"; }

std::string resultName(ncclResult_t result) {
  static const char* const kNames[] = {
      "ncclSuccess",         "ncclUnhandledCudaError", "ncclSystemError", "ncclInternalError",
      "ncclInvalidArgument", "ncclInvalidUsage",       "ncclRemoteError", "ncclInProgress"};
  const int v = static_cast<int>(result);
  const char* name = (v >= 0 && v < 8) ? kNames[v] : "unknown result";
  return std::string(name) + " (" + std::to_string(v) + ")";
}

RankContext::RankContext(int rank, int nranks, Mode mode, const ncclUniqueId& id,
                         SharedBoard& board, std::chrono::milliseconds barrierTimeout)
    : rank(rank),
      nranks(nranks),
      mode(mode),
      id(id),
      board_(board),
      barrierTimeout_(barrierTimeout) {}

void RankContext::barrier() { board_.barrier(barrierTimeout_); }

void RankContext::record(const std::string& message) {
  ++failureCount_;
  if (failures_.size() < kMaxMessages) failures_.push_back(message);
}

void RankContext::fail(const std::string& message) {
  record(message);
  throw RankFailure(message);
}

bool RankContext::expect(bool condition, const std::string& message) {
  if (!condition) record(message);
  return condition;
}

void RankContext::requireOk(ncclResult_t result, const std::string& call) {
  requireResult(result, ncclSuccess, call);
}

void RankContext::requireResult(ncclResult_t result, ncclResult_t expected,
                                const std::string& call) {
  if (result == expected) return;
  const char* last = ncclGetLastError(comm);
  fail(call + " returned " + resultName(result) + ", expected " + resultName(expected) +
       " (last error: \"" + (last ? last : "<null>") + "\")");
}

void runRanks(int nranks, Mode mode, const std::function<void(RankContext&)>& body,
              const RunOptions& options) {
  ASSERT_GT(nranks, 0);
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  const ncclResult_t idResult = ncclGetUniqueId(&id);
  ASSERT_EQ(idResult, ncclSuccess)
      << "ncclGetUniqueId: " << resultName(idResult) << ": " << ncclGetLastError(nullptr);
  SharedBoard* board = SharedBoard::create(nranks, options.sharedBytes);
  std::vector<Outcome> outcomes(nranks);
  bool leaked = false;
  if (mode == Mode::Threads) {
    runThreads(nranks, id, body, options, *board, outcomes, leaked);
  } else {
    runProcesses(nranks, id, body, options, *board, outcomes);
  }
  report(nranks, mode, *board, outcomes, options);
  // A detached, stuck thread may still touch the board: leave it mapped.
  if (!leaked) SharedBoard::destroy(board);
}

}  // namespace prism::test
