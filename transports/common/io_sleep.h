// Where a transport's I/O thread sleeps: an epoll set over the descriptors that bring it
// work, plus an eventfd through which the rank wakes it. No wake-up is lost, by the
// doorbell's protocol (futex_doorbell.cc): the thread announces the sleep, fences, looks
// for work once more, then sleeps; the rank publishes its change, fences, and writes the
// eventfd only if it sees the announcement, so a busy thread costs the rank no system call.
#pragma once

#include <atomic>
#include <cstdint>

namespace prism {

class IoSleep {
 public:
  /// `who` names the transport in errors ("tcp transport"). Throws prism::Error
  /// (ncclSystemError) when the descriptors cannot be created.
  explicit IoSleep(const char* who);
  ~IoSleep();
  IoSleep(const IoSleep&) = delete;
  IoSleep& operator=(const IoSleep&) = delete;

  /// Adds `fd` with epoll `events` (EPOLLIN, EPOLLET, ...). Before the thread starts.
  void watch(int fd, uint32_t events);

  /// The I/O thread: announces that it may sleep. Look for work once more afterwards.
  void announce();
  /// The I/O thread: sleeps until a watched descriptor is ready, wake() or interrupt()
  /// is called, or `millis` pass.
  void sleep(int millis);
  /// The I/O thread: the sleep (or the announcement) is over.
  void awake() { sleeping_.store(false, std::memory_order_relaxed); }

  /// Any thread, after publishing a change: wakes the I/O thread if it announced a sleep.
  /// Costs one fence and one load otherwise.
  void wake();
  /// Wakes the I/O thread whether or not it announced a sleep (for stopping it).
  void interrupt();

 private:
  const char* who_;
  int epoll_ = -1;
  int event_ = -1;
  alignas(64) std::atomic<bool> sleeping_{false};
};

}  // namespace prism
