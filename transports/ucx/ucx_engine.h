// The I/O thread of the UCX transport and the hand-over of the worker between it and the
// rank, by the same rule as the TCP transport's: while a thread of the rank waits in a call
// it calls ucp_worker_progress itself, with no crossing to another thread; when it sleeps,
// or returns while something is still to be sent, it hands the worker to the I/O thread,
// which progresses it, sleeps on the worker's event descriptor when idle, and rings the
// rank's doorbell when a message or a credit arrives or a peer fails.
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

namespace prism::ucx {

class Worker;

class Engine {
 public:
  /// Starts the thread at once. `worker`, `bell` and `events` outlive the engine. `events`
  /// is the counter the transport's callbacks bump for anything the rank may wait for;
  /// `idle` runs on the I/O thread, holding the worker, before it sleeps.
  Engine(Worker& worker, shm::DoorbellBlock* bell, const uint64_t* events,
         std::function<void()> idle);
  ~Engine();  ///< stops and joins the thread; the rank holds the worker afterwards
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// The rank's side: takes the worker before any UCX call (cheap when the rank holds it).
  void claim() { owner_.claim(); }
  /// The rank's side: takes the worker and progresses it once. Returns whether anything
  /// happened.
  bool drive();
  /// The rank's side: gives the worker to the I/O thread and wakes it.
  void handBack();
  bool rankDrives() const { return owner_.rankDrives(); }

 private:
  void loop();
  /// Progresses until nothing happens; rings the doorbell if a callback reported an event.
  bool pass();

  Worker& worker_;
  shm::DoorbellBlock* bell_;
  const uint64_t* events_;
  std::function<void()> idle_;
  ProgressOwner owner_;
  IoSleep sleep_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace prism::ucx
