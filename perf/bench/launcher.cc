#include "perf/bench/launcher.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "perf/bench/thread_ranks.h"
#include "prism/prism.h"

namespace prism::bench {
namespace {

// How long the other ranks may take to finish once rank 0 has finished successfully.
constexpr std::chrono::seconds kFinishTimeout{60};
// How long the run waits, once any rank has failed, for the others to notice and exit on
// their own (their error messages explain more than a kill does).
constexpr std::chrono::seconds kFailureGrace{5};

// "rank 3" when every process is one rank, else "process 1 (ranks 2-3)".
std::string processName(int process, int nthreads) {
  if (nthreads == 1) return "rank " + std::to_string(process);
  return "process " + std::to_string(process) + " (ranks " + std::to_string(process * nthreads) +
         "-" + std::to_string(process * nthreads + nthreads - 1) + ")";
}

// Reaps the forked processes on a thread of its own, so that a process that dies is
// noticed even while process 0 is blocked inside a collective waiting for it.
class ChildWatch {
 public:
  ChildWatch(std::vector<pid_t> children, int nthreads)
      : children_(std::move(children)),
        nthreads_(nthreads),
        alive_(children_.size()),
        thread_([this] { reap(); }) {}

  ChildWatch(const ChildWatch&) = delete;
  ChildWatch& operator=(const ChildWatch&) = delete;

  // Called when process 0 is done; waits for the others (killing them past the deadline)
  // and returns the worst exit status among them (0 if all of them succeeded).
  int finish(bool rank0Ok) {
    {
      std::unique_lock lock(mutex_);
      rank0Done_ = true;
      changed_.notify_all();
      auto timeout = rank0Ok && worst_ == 0 ? kFinishTimeout : kFailureGrace;
      if (!changed_.wait_for(lock, timeout, [this] { return alive_ == 0; })) {
        std::fprintf(stderr, "prism-bench: %zu %s still running %llds after %s; killing\n", alive_,
                     nthreads_ == 1 ? "rank(s)" : "process(es)",
                     static_cast<long long>(timeout.count()), processName(0, nthreads_).c_str());
        killSurvivors();
        worst_ = std::max(worst_, 1);
      }
    }
    thread_.join();
    std::lock_guard lock(mutex_);
    return worst_;
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
      int process = processOf(pid);
      if (process < 0) continue;  // not one of ours
      children_[process - 1] = 0;
      --alive_;
      int exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      if (exitStatus != 0) {
        worst_ = std::max(worst_, exitStatus);
        describe(processName(process, nthreads_), pid, status);
      }
      changed_.notify_all();
      if (exitStatus != 0 && !rank0Done_) {
        // Process 0 may be blocked in a collective with the dead one; give it the grace
        // period to fail on its own, then end the run from here.
        if (!changed_.wait_for(lock, kFailureGrace, [this] { return rank0Done_; })) {
          std::fprintf(stderr, "prism-bench: %s failed; stopping all ranks\n",
                       processName(process, nthreads_).c_str());
          killSurvivors();
          std::fflush(nullptr);
          _exit(worst_);
        }
      }
    }
  }

  int processOf(pid_t pid) const {
    for (size_t i = 0; i < children_.size(); ++i) {
      if (children_[i] == pid) return static_cast<int>(i) + 1;
    }
    return -1;
  }

  static void describe(const std::string& name, pid_t pid, int status) {
    if (WIFSIGNALED(status)) {
      std::fprintf(stderr, "prism-bench: %s (pid %d) was killed by signal %d (%s)\n", name.c_str(),
                   pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
      std::fprintf(stderr, "prism-bench: %s (pid %d) exited with status %d\n", name.c_str(), pid,
                   WEXITSTATUS(status));
    }
  }

  void killSurvivors() {
    for (pid_t pid : children_) {
      if (pid > 0) kill(pid, SIGKILL);
    }
  }

  std::vector<pid_t> children_;  // index process-1; 0 once reaped
  int nthreads_;
  size_t alive_;
  bool rank0Done_ = false;
  int worst_ = 0;  // the largest exit status so far; 1 for a killed process
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread thread_;  // last: starts after the state above exists
};

// Binds this process as local process `process` of `nprocs` (count 0: keep what the
// launcher gave it). A binding that cannot be read or set is reported and the rank runs
// unbound: binding changes how fast a run is, never what it computes.
void bindProcess(int process, int nprocs, int nthreads) {
  if (prismBindProcess(process, nprocs, nthreads) != ncclSuccess) {
    std::fprintf(stderr, "prism-bench: process %d not bound to cores: %s\n", process,
                 ncclGetLastError(nullptr));
  }
}

}  // namespace

int launchLocalRanks(int nprocs, int nthreads, const RankMain& body) {
  RankContext context;
  context.nranks = nprocs * nthreads;
  context.nthreads = nthreads;
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
  for (int process = 1; process < nprocs; ++process) {
    pid_t pid = fork();
    if (pid == 0) {
      // Die with the parent, so that no rank outlives a crashed or killed run.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      context.process = process;
      context.rank = process * nthreads;
      bindProcess(process, nprocs, nthreads);
      int status = runThreadRanks(context, body);
      std::fflush(nullptr);
      _exit(std::clamp(status, 0, 255));
    }
    if (pid < 0) {
      std::fprintf(stderr, "prism-bench: fork of %s failed: %s\n",
                   processName(process, nthreads).c_str(), std::strerror(errno));
      for (pid_t child : children) kill(child, SIGKILL);
      for (pid_t child : children) waitpid(child, nullptr, 0);
      return 1;
    }
    children.push_back(pid);
    context.pids.push_back(pid);
  }
  // Process 0 binds itself only now: a child forked from a bound parent would start on its
  // parent's CPUs and take them for an outside launcher's binding.
  bindProcess(0, nprocs, nthreads);
  if (children.empty()) return runThreadRanks(context, body);

  ChildWatch watch(children, nthreads);
  int status = runThreadRanks(context, body);
  std::fflush(nullptr);
  int others = watch.finish(status == 0);
  return std::max(status, others);
}

int runLaunchedRanks(int process, int nprocs, int nthreads, const ncclUniqueId& id,
                     const RankMain& body) {
  RankContext context;
  context.process = process;
  context.nthreads = nthreads;
  context.rank = process * nthreads;
  context.nranks = nprocs * nthreads;
  context.id = id;
  context.launched = true;
  // The launcher bound this process (prism-run says so in PRISM_CPU_LIST) or chose not to.
  bindProcess(process, 0, nthreads);
  int status = runThreadRanks(context, body);
  std::fflush(nullptr);
  return status;
}

}  // namespace prism::bench
