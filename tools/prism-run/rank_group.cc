#include "tools/prism-run/rank_group.h"

#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>

#include "tools/prism-run/output_tags.h"

namespace prism::run {
namespace {

using Clock = std::chrono::steady_clock;

class RankGroup {
 public:
  RankGroup(std::chrono::milliseconds grace, bool tagOutput)
      : grace_(grace), tagOutput_(tagOutput) {}

  void start(std::vector<SpawnSpec>& ranks) {
    if (tagOutput_) tags_.attach(ranks);
    for (const SpawnSpec& spec : ranks) {
      try {
        pids_.push_back(spawn(spec));
        groups_.push_back(pids_.back());
      } catch (const SetupError&) {
        killAll(SIGKILL);
        while (alive() > 0) reap(true);
        throw;
      }
    }
    if (tagOutput_) tags_.started();
  }

  int wait() {
    while (alive() > 0) {
      // With tagged output the wait alternates between signals and the ranks' pipes.
      if (tagOutput_) tags_.pump(kPumpMillis);
      int sig = waitForSignal(tagOutput_ ? 1 : 100);
      if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) onSignal(sig);
      reap(false);
      if (stopAt_ && Clock::now() >= *stopAt_ && !killed_) {
        std::fprintf(stderr, "prism-run: %d rank(s) still running after %lld ms; killing them\n",
                     alive(), static_cast<long long>(grace_.count()));
        killAll(SIGKILL);
        killed_ = true;
      }
    }
    // Whatever a rank left running in its process group (a background helper) goes too.
    for (pid_t group : groups_) kill(-group, SIGKILL);
    if (tagOutput_) tags_.drain(kDrainMillis);
    if (signal_ != 0) return 128 + signal_;
    return firstFailure_;
  }

 private:
  int alive() const {
    int n = 0;
    for (pid_t pid : pids_) n += pid > 0 ? 1 : 0;
    return n;
  }

  void onSignal(int sig) {
    if (signal_ == 0) {
      std::fprintf(stderr, "prism-run: got signal %d (%s); forwarding it to the ranks\n", sig,
                   strsignal(sig));
      signal_ = sig;
    }
    killAll(sig);
    if (!stopAt_) stopAt_ = Clock::now() + grace_;
  }

  // Reaps finished ranks; `block` waits for at least one.
  void reap(bool block) {
    for (size_t r = 0; r < pids_.size(); ++r) {
      if (pids_[r] <= 0) continue;
      int status = 0;
      pid_t done = waitpid(pids_[r], &status, block ? 0 : WNOHANG);
      if (done == 0 || (done < 0 && errno == EINTR)) continue;
      pid_t pid = pids_[r];
      pids_[r] = 0;
      if (done < 0 || shellStatus(status) == 0) continue;
      if (firstFailure_ == 0 && signal_ == 0 && !killed_) {
        firstFailure_ = shellStatus(status);
        std::fprintf(stderr, "prism-run: rank %zu (pid %d) %s; stopping the other ranks\n", r, pid,
                     describeStatus(status).c_str());
        if (!stopAt_) stopAt_ = Clock::now() + grace_;
      }
      if (block) return;
    }
  }

  void killAll(int sig) {
    for (pid_t pid : pids_) {
      if (pid > 0) kill(-pid, sig);  // the rank's process group: its helpers too
    }
  }

  static constexpr int kPumpMillis = 50;
  // How long the last output may take to arrive after the ranks ended.
  static constexpr int kDrainMillis = 2000;

  std::chrono::milliseconds grace_;
  bool tagOutput_;
  OutputTags tags_;
  std::vector<pid_t> pids_;    // rank order; 0 once reaped
  std::vector<pid_t> groups_;  // every rank's process group, for the final sweep
  std::optional<Clock::time_point> stopAt_;
  int firstFailure_ = 0;
  int signal_ = 0;
  bool killed_ = false;
};

}  // namespace

int runRankGroup(std::vector<SpawnSpec> ranks, std::chrono::milliseconds grace, bool tagOutput) {
  RankGroup group(grace, tagOutput);
  group.start(ranks);
  return group.wait();
}

}  // namespace prism::run
