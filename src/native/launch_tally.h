// Device operations a thread has issued whose kernels have not been launched yet.
//
// Between thread ranks on one GPU a flag-mode collective spins on the device until the
// peers' kernels arrive, and the native API launches it on its communicator's worker once
// every peer has called (enqueuer.h). CUDA orders a device memory allocation, free or
// memset against the work around it: work launched after it waits for work launched
// before it. So a rank's thread that allocates after its peer's kernel started but before
// its own worker launched makes its own kernel wait for the peer's, which waits for it:
// a deadlock (prism-train --mode zero3 --device cuda hung in its first step on an H200,
// the prefetcher allocating the next group's buffer right after issuing a gather).
// The overlap hooks' device buffers therefore wait, before each such call, until every
// device operation their thread issued has launched (awaitOwnLaunches).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace prism::native {

class LaunchTally;

/// One issued device operation; launched() (or destruction, for one that never launches
/// because it failed) takes it off its thread's tally, once.
class LaunchTicket {
 public:
  explicit LaunchTicket(std::shared_ptr<LaunchTally> tally);
  ~LaunchTicket();
  LaunchTicket(const LaunchTicket&) = delete;
  LaunchTicket& operator=(const LaunchTicket&) = delete;

  void launched();

 private:
  std::shared_ptr<LaunchTally> tally_;
  std::atomic<bool> done_{false};
};

class LaunchTally : public std::enable_shared_from_this<LaunchTally> {
 public:
  /// The calling thread's tally.
  static const std::shared_ptr<LaunchTally>& ofThisThread();

  /// Counts one more operation of this tally until the ticket says it launched.
  std::shared_ptr<LaunchTicket> issue();
  /// Waits until every operation issued so far has launched; false after `timeout`.
  bool awaitLaunched(std::chrono::milliseconds timeout);
  int pending();

 private:
  friend class LaunchTicket;
  void release();

  std::mutex mutex_;
  std::condition_variable launched_;
  int pending_ = 0;
};

/// Waits until the device operations this thread issued have launched, for at most
/// PRISM_TIMEOUT_S; then throws ncclSystemError naming `what` (the call that must wait).
void awaitOwnLaunches(const char* what);

}  // namespace prism::native
