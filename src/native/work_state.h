// The shared state behind a Work handle: filled in by the progress engine, read by the
// caller's thread through Work.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include "nccl.h"
#include "prism/comm.hpp"

namespace prism {

struct Work::State {
  using Clock = Work::Clock;

  std::mutex mutex;
  std::condition_variable changed;
  bool done = false;
  ncclResult_t error = ncclSuccess;  ///< set with done when the operation failed
  std::string reason;
  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State();

  Clock::time_point start{};
  Clock::time_point end{};
  size_t bytes = 0;
  /// Device operations: the event recorded after the enqueue (a cudaEvent_t), and the
  /// Comm's stream it was recorded on. Null for host operations and until enqueued.
  void* event = nullptr;
  bool enqueued = false;

  /// Marks the operation complete at `when` and wakes every waiter.
  void complete(Clock::time_point when);
  /// Marks the operation failed with `code` and a one-line reason.
  void fail(ncclResult_t code, const std::string& why);
  /// Records the start time (first time only).
  void started(Clock::time_point when);
  /// Marks a device operation enqueued with its completion event.
  void markEnqueued(void* completionEvent);
};

}  // namespace prism
