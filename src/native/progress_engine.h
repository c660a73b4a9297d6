// The native API's asynchrony: one progress thread per process advances the operation
// queues of every native communicator without blocking.
//
// Each communicator has a FIFO of pending operations (CommQueue). The thread progresses
// the head operation's plan; when it completes, the Work is marked done and the next one
// starts, so one communicator's operations complete in issue order while different
// communicators progress together (ranks that issue to two communicators in opposite
// orders cannot deadlock). In each sweep, queues whose head is Priority::High go first.
//
// Only this thread touches a communicator while it has queued operations; threads that
// wait on a Work sleep on its condition variable. One driver per communicator keeps the
// executor single-threaded, as it assumes, at the cost of one thread wake-up per
// completion.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "prism/comm.hpp"
#include "src/core/operation.h"
#include "src/native/enqueuer.h"

namespace prism {

class Communicator;
struct Plan;

namespace native {

/// One issued call: its operations (one group), priority and handle.
struct PendingOp {
  std::vector<Operation> ops;
  Priority priority = Priority::Normal;
  bool onDevice = false;
  std::shared_ptr<Work::State> work;
};

/// The pending operations of one communicator. Guarded by `mutex`, which the progress
/// thread holds while it advances the head.
struct CommQueue {
  explicit CommQueue(Communicator& c) : comm(c) {}

  Communicator& comm;
  std::mutex mutex;
  std::deque<PendingOp> pending;
  bool headStarted = false;
  bool closed = false;  ///< detached: the thread no longer looks at it
  Plan* plan = nullptr;
  /// The head's host operations that take the plan path (reused storage).
  std::vector<Operation> planOps;
  /// The head's direct or in-network operations run on the enqueuer's thread now; its
  /// plan (planOps) starts after them.
  bool aloneRunning = false;
  /// The Comm's stream for device operations (created on first use).
  void* deviceStream = nullptr;
  /// Runs the head's device enqueue when it meets peers on the host (see enqueuer.h), and
  /// its direct and in-network operations, which wait for peers inside the call.
  Enqueuer enqueuer;
  std::chrono::steady_clock::time_point lastMove{};
};

class ProgressEngine {
 public:
  /// The process's engine; its thread starts on first use (again in a forked child).
  static ProgressEngine& instance();

  void attach(std::shared_ptr<CommQueue> queue);
  /// Stops looking at `queue`; returns once the thread is not inside it.
  void detach(const std::shared_ptr<CommQueue>& queue);
  /// Appends `op` to `queue` and wakes the thread.
  void submit(CommQueue& queue, PendingOp op);

 private:
  ProgressEngine();
  void loop();
  /// One pass over every queue, High heads first. Sets `pending` when any queue has work.
  bool sweep(bool& pending);
  /// Fails head operations that wait on a peer that gave up or died
  /// (Communicator::checkPeers), or made no progress for their communicator's timeout.
  void checkStuck();
  /// Sleeps until a peer rings or new work arrives (bounded nap).
  void nap();

  // Guarded by mutex_. `changes_` counts submissions and detaches (wakes the idle
  // thread); `generation_` counts loop iterations, so detach can wait for the iteration
  // that may still use a queue to end.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable iterated_;
  std::vector<std::shared_ptr<CommQueue>> queues_;
  uint64_t queuesVersion_ = 0;
  uint64_t changes_ = 0;
  uint64_t generation_ = 0;
  int detachWaiters_ = 0;
  /// The thread's copy of queues_ (touched by the thread only).
  std::vector<std::shared_ptr<CommQueue>> snapshot_;
  uint64_t snapshotVersion_ = ~uint64_t{0};
  std::thread thread_;
};

}  // namespace native
}  // namespace prism
