#include "src/comm/progress.h"

#include <sched.h>

#include <chrono>

#include "base/error.h"
#include "base/log.h"
#include "src/comm/communicator.h"
#include "transports/transport.h"

namespace prism {

namespace {

using Clock = std::chrono::steady_clock;

/// How long a wait lasts before the waiting rank looks for peers that gave up or died:
/// far below any timeout, far above the waits of a healthy exchange.
constexpr auto kPeerCheckAfter = std::chrono::milliseconds(2);

/// One pass over every unfinished plan. Returns whether anything moved; sets `done`.
bool pollAll(std::span<const PlanRun> runs, bool& done) {
  bool moved = false;
  done = true;
  for (const PlanRun& run : runs) {
    if (run.plan->done()) continue;
    run.comm->checkUsable();
    moved |= run.comm->progress(*run.plan);
    done &= run.plan->done();
  }
  return moved;
}

[[noreturn]] void failStuck(std::span<const PlanRun> runs, const char* why) {
  for (const PlanRun& run : runs) {
    if (run.plan->done()) continue;
    std::string message = "rank " + std::to_string(run.comm->rank()) + " of " + run.comm->name() +
                          ": " + why + " in " + run.comm->describeWait(*run.plan);
    run.comm->setAsyncError(ncclSystemError);
    throw Error(ncclSystemError, message);
  }
  throw Error(ncclInternalError, why);
}

/// Counts this thread as a driver of every communicator in `runs` while it waits.
class DriverScope {
 public:
  explicit DriverScope(std::span<const PlanRun> runs) : runs_(runs) {
    for (const PlanRun& run : runs_) run.comm->drivers().fetch_add(1);
  }
  ~DriverScope() {
    for (const PlanRun& run : runs_) run.comm->drivers().fetch_sub(1);
  }

 private:
  std::span<const PlanRun> runs_;
};

}  // namespace

void runPlans(std::span<const PlanRun> runs) {
  DriverScope drivers(runs);
  const int64_t spin = runs.front().comm->spinCount();
  const auto timeout = std::chrono::seconds(runs.front().comm->timeoutSeconds());
  // A single communicator sleeps until a peer rings; several (one thread driving many
  // ranks) poll their doorbells in turn with short naps.
  const auto nap =
      runs.size() == 1 ? std::chrono::microseconds(50000) : std::chrono::microseconds(200);
  // The clock is read only once the rank starts to wait: while messages flow, a clock
  // read per poll would cost as much as the poll itself.
  Clock::time_point lastMove;
  bool moveSinceClock = true;  // "since the call began": read at the first wait
  int64_t idle = 0;
  bool done = false;
  while (true) {
    if (pollAll(runs, done)) {
      idle = 0;
      moveSinceClock = true;
    }
    if (done) return;
    ++idle;
    if (idle < spin) continue;
    if (moveSinceClock) {
      lastMove = Clock::now();
      moveSinceClock = false;
    }
    if (idle < spin + 8) {
      sched_yield();
      continue;
    }
    // A peer that gave up may sit behind a FIFO this rank is not reading, and a peer
    // process that died sends nothing ever again. Looked at only once a wait has lasted
    // a while, so waits of a healthy exchange pay nothing for it.
    if (Clock::now() - lastMove >= kPeerCheckAfter) {
      for (const PlanRun& run : runs) {
        if (!run.plan->done()) run.comm->checkPeers(*run.plan);
      }
    }
    Doorbell& bell = runs.front().comm->transport().doorbell();
    uint32_t ticket = bell.arm();
    bool moved = pollAll(runs, done);
    if (!moved && !done) bell.wait(ticket, nap);
    bell.disarm();
    if (moved) {
      idle = 0;
      lastMove = Clock::now();
    }
    if (done) return;
    if (Clock::now() - lastMove > timeout) failStuck(runs, "timed out waiting for peers");
  }
}

}  // namespace prism
