#include "perf/bench/thread_ranks.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "prism/prism.h"

namespace prism::bench {
namespace {

// How long the other thread ranks may keep running once one of them has failed; the same
// grace the launcher gives forked ranks.
constexpr std::chrono::seconds kFailureGrace{5};

}  // namespace

int runThreadRanks(const RankContext& process, const RankMain& body) {
  if (process.nthreads <= 1) return body(process);
  std::mutex mutex;
  std::condition_variable changed;
  int running = process.nthreads;
  int worst = 0;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(process.nthreads));
  for (int t = 0; t < process.nthreads; ++t) {
    RankContext context = process;
    context.rank = process.process * process.nthreads + t;
    threads.emplace_back([&, context, t] {
      // Bound before the rank creates its communicator, whose threads inherit the binding.
      if (prismBindThread(t, process.nthreads) != ncclSuccess) {
        std::fprintf(stderr, "prism-bench: rank %d not bound to a core: %s\n", context.rank,
                     ncclGetLastError(nullptr));
      }
      int status = 1;
      try {
        status = body(context);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "prism-bench: rank %d: %s\n", context.rank, e.what());
      }
      std::lock_guard lock(mutex);
      worst = std::max(worst, status);
      --running;
      changed.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return running == 0 || worst != 0; });
    if (running > 0 && !changed.wait_for(lock, kFailureGrace, [&] { return running == 0; })) {
      std::fprintf(stderr,
                   "prism-bench: process %d: %d rank thread(s) still running %llds "
                   "after a failure; exiting\n",
                   process.process, running, static_cast<long long>(kFailureGrace.count()));
      std::fflush(nullptr);
      _exit(worst);
    }
  }
  for (std::thread& thread : threads) thread.join();
  return worst;
}

}  // namespace prism::bench
