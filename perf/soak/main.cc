// prism-fault-soak: kills a random rank at a random moment of a random sequence of
// collectives, trial after trial, and checks what the survivors make of it: each must fail
// within the deadline (no hang), none may crash or return wrong data, each must blame the
// dead rank, and the survivors must shrink the communicator and complete a verified
// allreduce on it. Prints the distribution of time-to-error (kill to the survivor's failed
// call returning) and one line per violation; exits nonzero if there is any.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "perf/soak/soak_trial.h"

using namespace prism::soak;

namespace {

/// The victim dies at a uniformly random moment between the ranks being up and this long
/// after: early enough to land inside the first collectives of the sequence.
constexpr std::chrono::microseconds kLatestKill{20000};

struct Tally {
  int trials = 0, hangs = 0, crashes = 0, wrongData = 0, wrongBlame = 0, late = 0, noAsync = 0,
      shrinkFailed = 0, setupFailed = 0;
  std::vector<double> latencies;
  int violations() const {
    return hangs + crashes + wrongData + wrongBlame + late + noAsync + shrinkFailed;
  }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

/// Runs one trial; adds its outcome to `tally`, printing each violation.
void runTrial(int trial, uint64_t seed, int minRanks, int maxRanks, double deadline, bool shrink,
              Tally& tally) {
  std::mt19937_64 rng(seed);
  void* mem =
      mmap(nullptr, sizeof(TrialBoard), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) std::exit(3);
  auto* board = new (mem) TrialBoard{};
  board->nranks =
      minRanks + static_cast<int>(rng() % static_cast<uint64_t>(maxRanks - minRanks + 1));
  board->victim = static_cast<int>(rng() % static_cast<uint64_t>(board->nranks));
  board->seed = rng();
  const auto killDelay = std::chrono::microseconds(
      static_cast<int64_t>(rng() % static_cast<uint64_t>(kLatestKill.count() + 1)));
  if (ncclGetUniqueId(&board->id) != ncclSuccess) std::exit(3);
  std::vector<pid_t> pids;
  for (int r = 0; r < board->nranks; ++r) {
    const pid_t pid = fork();
    if (pid == 0) runRank(*board, r);
    pids.push_back(pid);
  }
  auto report = [&](const char* what, int rank, const std::string& detail) {
    std::printf("trial %d (seed %llu, %d ranks, victim %d): rank %d %s%s%s\n", trial,
                static_cast<unsigned long long>(seed), board->nranks, board->victim, rank, what,
                detail.empty() ? "" : ": ", detail.c_str());
  };
  // The clock starts once every rank is up.
  const double setupLimit = now() + 60;
  bool up = false;
  while (!up && now() < setupLimit) {
    up = true;
    for (int r = 0; r < board->nranks; ++r)
      up &= __atomic_load_n(&board->ranks[r].ready, __ATOMIC_ACQUIRE) != 0;
    if (!up) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ++tally.trials;
  if (!up) {
    ++tally.setupFailed;
    report("never came up", -1, "");
  }
  std::this_thread::sleep_for(killDelay);
  kill(pids[board->victim], SIGKILL);
  board->killedAt = now();
  std::vector<int> status(board->nranks, 0);
  std::vector<bool> reaped(board->nranks, false);
  const double limit = board->killedAt + deadline + (shrink ? 30 : 5);
  for (int left = board->nranks; left > 0 && now() < limit;) {
    for (int r = 0; r < board->nranks; ++r) {
      if (!reaped[r] && waitpid(pids[r], &status[r], WNOHANG) == pids[r]) reaped[r] = true, --left;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int r = 0; r < board->nranks; ++r) {
    if (r == board->victim) {
      if (!reaped[r]) waitpid(pids[r], &status[r], 0);
      continue;
    }
    const RankRecord& rec = board->ranks[r];
    if (!reaped[r]) {
      ++tally.hangs;
      report("hung", r, rec.message);
      kill(pids[r], SIGKILL);
      waitpid(pids[r], &status[r], 0);
      continue;
    }
    if (WIFSIGNALED(status[r])) {
      ++tally.crashes;
      report("crashed", r, "signal " + std::to_string(WTERMSIG(status[r])));
      continue;
    }
    if (!up) continue;
    if (rec.wrong > 0) {
      ++tally.wrongData;
      report("returned wrong data", r, std::to_string(rec.wrong) + " elements");
    }
    const double latency = rec.failedAt - board->killedAt;
    tally.latencies.push_back(latency);
    if (rec.result == ncclSuccess || latency > deadline) {
      ++tally.late;
      report("did not fail in time", r,
             std::to_string(latency) + " s after the kill: " + rec.message);
    }
    const int blamed = blamedRank(rec.message);
    if (blamed != board->victim) {
      ++tally.wrongBlame;
      report("blamed the wrong rank", r, rec.message);
    }
    if (rec.async == ncclSuccess) {
      ++tally.noAsync;
      report("has no async error", r, "");
    }
    if (shrink && !(rec.shrink == ncclSuccess && rec.shrunkOk)) {
      ++tally.shrinkFailed;
      report("could not shrink and go on", r,
             "ncclCommShrink returned " + std::to_string(rec.shrink) + ": " + rec.shrinkMessage);
    }
  }
  munmap(mem, sizeof(TrialBoard));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Kill a random rank at a random moment; check that the survivors fail fast, "
      "blame it, and can shrink and go on."};
  int trials = 50;
  uint64_t seed = 1;
  int minRanks = 3, maxRanks = 5;
  double deadline = 2.0;
  bool noShrink = false;
  app.add_option("--trials", trials, "trials to run")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed of the first trial (trial t uses seed + t)");
  app.add_option("--min-ranks", minRanks, "fewest ranks per trial")->check(CLI::Range(2, 16));
  app.add_option("--max-ranks", maxRanks, "most ranks per trial")->check(CLI::Range(2, 16));
  app.add_option("--deadline", deadline, "seconds within which every survivor must fail");
  app.add_flag("--no-shrink", noShrink, "do not require the survivors to shrink and go on");
  CLI11_PARSE(app, argc, argv);
  if (maxRanks < minRanks) maxRanks = minRanks;
  // Children are forked; a dead peer must not take the driver down with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);

  Tally tally;
  for (int t = 0; t < trials; ++t)
    runTrial(t, seed + static_cast<uint64_t>(t), minRanks, maxRanks, deadline, !noShrink, tally);

  const char* transport = std::getenv("PRISM_TRANSPORT");
  std::printf(
      "transport %s: %d trials, %zu survivors; time to error p50 %.3f s, p90 %.3f s, p99 %.3f "
      "s, max %.3f s\n",
      transport ? transport : "auto", tally.trials, tally.latencies.size(),
      percentile(tally.latencies, 0.5), percentile(tally.latencies, 0.9),
      percentile(tally.latencies, 0.99), percentile(tally.latencies, 1.0));
  std::printf(
      "hangs %d, crashes %d, wrong data %d, wrong blame %d, late %d, no async error %d, "
      "shrink failed %d, setup failed %d\n",
      tally.hangs, tally.crashes, tally.wrongData, tally.wrongBlame, tally.late, tally.noAsync,
      tally.shrinkFailed, tally.setupFailed);
  return tally.violations() == 0 && tally.setupFailed == 0 ? 0 : 1;
}
