// Who drives a network plugin: the rank's waiting thread while it is in a call, or the
// transport's I/O thread while the rank sleeps or has returned with sends in flight (the
// rule of the TCP and UCX transports, progress_owner.h). A plugin has no descriptor to
// sleep on, only test(), so the I/O thread polls: at once while requests complete, then
// yielding, then sleeping a millisecond at a time until the rank hands the plugin back or
// claims it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "transports/common/io_sleep.h"
#include "transports/common/progress_owner.h"

namespace prism::shm {
struct DoorbellBlock;
}

namespace prism::net {

class Engine {
 public:
  /// `poll` tests every link once and returns whether anything completed; it runs only in
  /// the thread that holds the plugin. `bell` outlives the engine. The thread starts parked:
  /// the rank holds the plugin until handBack().
  Engine(shm::DoorbellBlock* bell, std::function<bool()> poll);
  ~Engine();  ///< stops and joins the thread; the rank holds the plugin afterwards
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// The rank's side: takes the plugin before any call into it (cheap when held).
  void claim() { owner_.claim(); }
  /// The rank's side: takes the plugin and polls once.
  bool drive();
  /// The rank's side: gives the plugin to the I/O thread and wakes it.
  void handBack();
  bool rankDrives() const { return owner_.rankDrives(); }

  /// Numbers a failure among the transport's, so a report names the first one first.
  uint64_t nextFailure() { return ++failures_; }

 private:
  void loop();

  shm::DoorbellBlock* bell_;
  std::function<bool()> poll_;
  ProgressOwner owner_;
  IoSleep sleep_;
  uint64_t failures_ = 0;  // changed only by the thread holding the plugin
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace prism::net
