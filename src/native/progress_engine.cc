#include "src/native/progress_engine.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <string>

#include "base/error.h"
#include "src/comm/communicator.h"
#include "src/comm/router.h"
#include "src/native/device_stream.h"
#include "src/native/work_state.h"
#include "transports/transport.h"

namespace prism::native {

namespace {

using Clock = std::chrono::steady_clock;

/// Sweeps without progress before the thread yields, then naps on a doorbell.
constexpr int kSpinSweeps = 64;
constexpr int kYieldSweeps = 8;

ProgressEngine* gEngine = nullptr;
std::mutex gEngineMutex;

/// Fails the head and every queued operation of `q`. Called with q.mutex held.
void failAll(CommQueue& q, ncclResult_t code, const std::string& reason) {
  bool first = true;
  for (PendingOp& op : q.pending) {
    op.work->fail(code, first ? reason
                              : "an earlier operation on communicator " + q.comm.name() +
                                    " failed: " + reason);
    first = false;
  }
  q.pending.clear();
  if (q.headStarted) {
    q.comm.transport().pauseProgress(ProgressPause::CallEnd);
    q.comm.drivers().fetch_sub(1);
  }
  q.headStarted = false;
  q.aloneRunning = false;
  q.plan = nullptr;
}

/// True when `q` is open and its head runs a plan on the host (q.mutex held).
bool runsPlan(const CommQueue& q) { return !q.closed && q.headStarted && q.plan != nullptr; }

void startHead(CommQueue& q, PendingOp& head) {
  q.comm.checkUsable();
  Clock::time_point now = Clock::now();
  head.work->started(now);
  q.lastMove = now;
  if (head.onDevice) {
    const int device = q.comm.options().cudaDevice;
    useDevice(device);
    if (q.deviceStream == nullptr) q.deviceStream = createStream(device);
    for (Operation& op : head.ops) op.stream = q.deviceStream;
    auto enqueue = [&comm = q.comm, ops = head.ops, stream = q.deviceStream, work = head.work,
                    device] {
      useDevice(device);
      runOnDevice(comm, ops, device::Launch::AfterPeers);
      work->markEnqueued(recordEvent(stream));
    };
    if (q.comm.deviceEngine().needsHostRendezvous(head.ops, device::Launch::AfterPeers)) {
      q.enqueuer.start(std::move(enqueue));
    } else {
      enqueue();
    }
  } else {
    // The router's choice per operation, as for C calls and groups; the blocking paths
    // run on the enqueuer's thread, so this thread keeps serving other communicators.
    std::vector<std::pair<Operation, Path>> alone;
    q.planOps.clear();
    for (const Operation& op : head.ops) {
      Operation routed = op;
      const Path path = choosePath(q.comm, routed);
      if (path == Path::Plan) {
        q.planOps.push_back(routed);
      } else {
        alone.emplace_back(op, path);
      }
    }
    if (alone.empty()) {
      q.plan = &buildRoutedPlan(q.comm, q.planOps);
    } else {
      q.aloneRunning = true;
      q.enqueuer.start([&comm = q.comm, alone = std::move(alone)] {
        for (const auto& [op, path] : alone) runAlone(comm, op, path);
      });
    }
  }
  q.comm.drivers().fetch_add(1);
  q.headStarted = true;
}

/// Advances the head of `q` (q.mutex held); true if anything moved.
bool advanceHead(CommQueue& q) {
  PendingOp& head = q.pending.front();
  bool moved = false;
  if (!q.headStarted) {
    startHead(q, head);
    moved = true;
  }
  bool finished = false;
  q.comm.checkUsable();
  if (head.onDevice) {
    // Enqueued (at once, or by the worker), then done when its event has passed.
    finished = q.enqueuer.finished() && eventDone(head.work->event);
  } else {
    if (q.aloneRunning && q.enqueuer.finished()) {
      q.aloneRunning = false;
      q.plan = &buildRoutedPlan(q.comm, q.planOps);
      moved = true;
    }
    if (q.plan != nullptr) {
      moved |= progressPlan(q.comm, *q.plan);
      finished = q.plan->done();
    }
  }
  if (!moved && !finished) return false;
  Clock::time_point now = Clock::now();
  q.lastMove = now;
  if (finished) {
    head.work->complete(now);
    q.pending.pop_front();
    q.headStarted = false;
    q.plan = nullptr;
    q.comm.transport().pauseProgress(ProgressPause::CallEnd);
    q.comm.drivers().fetch_sub(1);
  }
  return true;
}

}  // namespace

ProgressEngine& ProgressEngine::instance() {
  std::lock_guard lock(gEngineMutex);
  if (gEngine == nullptr) {
    static bool registered = false;
    if (!registered) {
      // A forked child has no progress thread: it starts its own engine on first use.
      // The parent's engine is leaked there, never touched again.
      pthread_atfork(nullptr, nullptr, [] { gEngine = nullptr; });
      registered = true;
    }
    // Never destroyed: the thread may still sleep on its members at exit.
    gEngine = new ProgressEngine();
  }
  return *gEngine;
}

ProgressEngine::ProgressEngine() {
  thread_ = std::thread([this] { loop(); });
  thread_.detach();
}

void ProgressEngine::attach(std::shared_ptr<CommQueue> queue) {
  std::lock_guard lock(mutex_);
  queues_.push_back(std::move(queue));
  ++queuesVersion_;
}

void ProgressEngine::detach(const std::shared_ptr<CommQueue>& queue) {
  {
    std::lock_guard lock(queue->mutex);
    queue->closed = true;
  }
  std::unique_lock lock(mutex_);
  queues_.erase(std::remove(queues_.begin(), queues_.end(), queue), queues_.end());
  ++queuesVersion_;
  ++changes_;
  wake_.notify_one();
  // The iteration running now may still nap on the queue's doorbell; the next one starts
  // from a list without it.
  uint64_t target = generation_ + 1;
  ++detachWaiters_;
  iterated_.wait(lock, [&] { return generation_ >= target; });
  --detachWaiters_;
}

void ProgressEngine::submit(CommQueue& queue, PendingOp op) {
  {
    std::lock_guard lock(queue.mutex);
    queue.pending.push_back(std::move(op));
  }
  {
    std::lock_guard lock(mutex_);
    ++changes_;
  }
  wake_.notify_one();
}

bool ProgressEngine::sweep(bool& pending) {
  bool moved = false;
  pending = false;
  for (Priority pass : {Priority::High, Priority::Normal}) {
    for (const std::shared_ptr<CommQueue>& q : snapshot_) {
      std::lock_guard lock(q->mutex);
      if (q->closed || q->pending.empty() || q->pending.front().priority != pass) continue;
      try {
        moved |= advanceHead(*q);
      } catch (const Error& e) {
        failAll(*q, e.code(), e.what());
        moved = true;
      } catch (const std::exception& e) {
        failAll(*q, ncclInternalError, e.what());
        moved = true;
      }
      pending |= !q->pending.empty();
    }
  }
  return moved;
}

void ProgressEngine::checkStuck() {
  Clock::time_point now = Clock::now();
  for (const std::shared_ptr<CommQueue>& q : snapshot_) {
    std::lock_guard lock(q->mutex);
    if (!runsPlan(*q)) continue;
    // A peer that gave up, or the process of a peer the plan waits on died: fail now.
    try {
      q->comm.checkPeers(*q->plan);
    } catch (const Error& e) {
      failAll(*q, e.code(), e.what());
      continue;
    }
    if (now - q->lastMove <= std::chrono::seconds(q->comm.timeoutSeconds())) continue;
    std::string reason = "rank " + std::to_string(q->comm.rank()) + " of " + q->comm.name() +
                         ": timed out waiting for peers in " + q->comm.describeWait(*q->plan);
    q->comm.setAsyncError(ncclSystemError);
    failAll(*q, ncclSystemError, reason);
  }
}

void ProgressEngine::nap() {
  Doorbell* bell = nullptr;
  int active = 0;
  for (const std::shared_ptr<CommQueue>& q : snapshot_) {
    std::lock_guard lock(q->mutex);
    if (!runsPlan(*q)) continue;
    if (bell == nullptr) bell = &q->comm.transport().doorbell();
    ++active;
  }
  if (bell == nullptr) {
    // Only device operations (or nothing started yet): poll their events gently.
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    return;
  }
  // One communicator sleeps until its peer rings; with several, the thread naps briefly
  // and polls them all. A submission waits at most one nap.
  uint32_t ticket = bell->arm();
  bool pending = false;
  if (!sweep(pending) && pending) {
    // Armed first: what the transports' own threads move from here on rings the bell.
    for (const std::shared_ptr<CommQueue>& q : snapshot_) {
      std::lock_guard lock(q->mutex);
      if (!runsPlan(*q)) continue;
      q->comm.transport().pauseProgress(ProgressPause::Sleep);
    }
    bell->wait(ticket,
               active == 1 ? std::chrono::microseconds(1000) : std::chrono::microseconds(200));
  }
  bell->disarm();
}

void ProgressEngine::loop() {
  int idle = 0;
  while (true) {
    uint64_t seen = 0;
    {
      std::lock_guard lock(mutex_);
      ++generation_;
      if (detachWaiters_ > 0) iterated_.notify_all();
      if (snapshotVersion_ != queuesVersion_) {
        snapshot_ = queues_;
        snapshotVersion_ = queuesVersion_;
      }
      seen = changes_;
    }
    bool pending = false;
    if (sweep(pending)) {
      idle = 0;
      continue;
    }
    if (!pending) {
      idle = 0;
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return changes_ != seen; });
      continue;
    }
    if (++idle < kSpinSweeps) continue;
    if (idle < kSpinSweeps + kYieldSweeps) {
      sched_yield();
      continue;
    }
    checkStuck();
    nap();
  }
}

}  // namespace prism::native
