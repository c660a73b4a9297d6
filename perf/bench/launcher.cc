#include "perf/bench/launcher.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

namespace prism::bench {
namespace {

// How long the other ranks may take to finish once rank 0 has finished successfully.
constexpr std::chrono::seconds kFinishTimeout{60};
// How long the run waits, once any rank has failed, for the others to notice and exit on
// their own (their error messages explain more than a kill does).
constexpr std::chrono::seconds kFailureGrace{5};

// Reaps the forked ranks on a thread of its own, so that a rank that dies is noticed
// even while rank 0 is blocked inside a collective waiting for it.
class ChildWatch {
 public:
  explicit ChildWatch(std::vector<pid_t> children)
      : children_(std::move(children)), alive_(children_.size()), thread_([this] { reap(); }) {}

  ChildWatch(const ChildWatch&) = delete;
  ChildWatch& operator=(const ChildWatch&) = delete;

  // Called when rank 0 is done; waits for the others (killing them past the deadline)
  // and returns true if all of them succeeded.
  bool finish(bool rank0Ok) {
    {
      std::unique_lock lock(mutex_);
      rank0Done_ = true;
      changed_.notify_all();
      auto timeout = rank0Ok && !failed_ ? kFinishTimeout : kFailureGrace;
      if (!changed_.wait_for(lock, timeout, [this] { return alive_ == 0; })) {
        std::fprintf(stderr, "prism-bench: %zu rank(s) still running %llds after rank 0; killing\n",
                     alive_, static_cast<long long>(timeout.count()));
        killSurvivors();
      }
    }
    thread_.join();
    std::lock_guard lock(mutex_);
    return !failed_;
  }

 private:
  void reap() {
    while (true) {
      {
        std::lock_guard lock(mutex_);
        if (alive_ == 0) return;
      }
      int status = 0;
      pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0) {
        if (errno == EINTR) continue;
        return;  // ECHILD: nothing left to reap
      }
      std::unique_lock lock(mutex_);
      int rank = rankOf(pid);
      if (rank < 0) continue;  // not one of ours
      children_[rank - 1] = 0;
      --alive_;
      bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok) {
        failed_ = true;
        describe(rank, pid, status);
      }
      changed_.notify_all();
      if (!ok && !rank0Done_) {
        // Rank 0 may be blocked in a collective with the dead rank; give it the grace
        // period to fail on its own, then end the run from here.
        if (!changed_.wait_for(lock, kFailureGrace, [this] { return rank0Done_; })) {
          std::fprintf(stderr, "prism-bench: rank %d failed; stopping all ranks\n", rank);
          killSurvivors();
          std::fflush(nullptr);
          _exit(1);
        }
      }
    }
  }

  int rankOf(pid_t pid) const {
    for (size_t i = 0; i < children_.size(); ++i) {
      if (children_[i] == pid) return static_cast<int>(i) + 1;
    }
    return -1;
  }

  static void describe(int rank, pid_t pid, int status) {
    if (WIFSIGNALED(status)) {
      std::fprintf(stderr, "prism-bench: rank %d (pid %d) was killed by signal %d (%s)\n", rank,
                   pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
      std::fprintf(stderr, "prism-bench: rank %d (pid %d) exited with status %d\n", rank, pid,
                   WEXITSTATUS(status));
    }
  }

  void killSurvivors() {
    for (pid_t pid : children_) {
      if (pid > 0) kill(pid, SIGKILL);
    }
  }

  std::vector<pid_t> children_;  // index rank-1; 0 once reaped
  size_t alive_;
  bool rank0Done_ = false;
  bool failed_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread thread_;  // last: starts after the state above exists
};

}  // namespace

int launchLocalRanks(int nranks, const RankMain& body) {
  RankContext context;
  context.nranks = nranks;
  ncclResult_t result = ncclGetUniqueId(&context.id);
  if (result != ncclSuccess) {
    std::fprintf(stderr, "prism-bench: ncclGetUniqueId failed: %s (%s)\n",
                 ncclGetErrorString(result), ncclGetLastError(nullptr));
    return 1;
  }
  // Anything still buffered would otherwise be printed once per child as well.
  std::fflush(nullptr);
  const pid_t parent = getpid();
  context.pids.push_back(parent);
  std::vector<pid_t> children;
  for (int rank = 1; rank < nranks; ++rank) {
    pid_t pid = fork();
    if (pid == 0) {
      // Die with the parent, so that no rank outlives a crashed or killed run.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      context.rank = rank;
      int status = body(context);
      std::fflush(nullptr);
      _exit(status == 0 ? 0 : 1);
    }
    if (pid < 0) {
      std::fprintf(stderr, "prism-bench: fork of rank %d failed: %s\n", rank, std::strerror(errno));
      for (pid_t child : children) kill(child, SIGKILL);
      for (pid_t child : children) waitpid(child, nullptr, 0);
      return 1;
    }
    children.push_back(pid);
    context.pids.push_back(pid);
  }
  if (children.empty()) return body(context) == 0 ? 0 : 1;

  ChildWatch watch(children);
  int status = body(context);
  std::fflush(nullptr);
  bool othersOk = watch.finish(status == 0);
  return status == 0 && othersOk ? 0 : 1;
}

}  // namespace prism::bench
