// One I/O thread of the TCP transport and the hand-over of its links between that thread and
// the rank. While a thread of the rank waits in a call, it drives the links itself (drive()):
// non-blocking send and recv from the waiting thread, with no crossing to another thread and
// no wake-up. When the rank sleeps, or returns with bytes still to send, it hands the links
// back (handBack()) and the I/O thread drives them: it pumps until nothing moves, waits in
// epoll, and rings the rank's doorbell when a message arrives, a send slot frees or a link
// fails. Between calls the links stay with the rank unless something is left to send:
// incoming bytes wait in the kernel's buffers, so a rank that computes pays nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "transports/common/io_sleep.h"
#include "transports/common/progress_owner.h"

namespace prism::shm {
struct DoorbellBlock;
}

namespace prism::tcp {

class Link;
struct LinkSet;

class Engine {
 public:
  /// Starts the thread at once; `links` (a share of `set`) and `bell` must outlive the
  /// engine.
  Engine(std::vector<Link*> links, LinkSet* set, shm::DoorbellBlock* bell);
  ~Engine();  ///< stops and joins the thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// The rank's side: takes the links from the I/O thread if the rank does not hold them
  /// (waiting for a pass in flight to end), then moves whatever can move without blocking.
  /// Returns whether anything moved. One thread of the rank at a time, as for every
  /// transport call.
  bool drive();
  /// The rank's side: gives the links to the I/O thread, which wakes if it waits for them.
  /// Does nothing when the rank does not hold them.
  void handBack();
  /// The rank's side, when its call ends: takes the links if needed and drops their
  /// receiveInto() hints, so nothing more is placed in the caller's buffers.
  void endCall();
  /// True while the rank holds the links. Read by the rank only, which alone changes it.
  bool rankDrives() const { return owner_.rankDrives(); }
  /// True when some link of this engine holds committed bytes not yet in the kernel.
  bool sendsPending() const;

  /// Called by the rank after it committed or released a slot while the I/O thread holds
  /// the links: wakes the thread if it sleeps. Costs one fence and one load otherwise.
  void wake() { sleep_.wake(); }

 private:
  void loop();
  /// One pass over every link; `ring` rings the rank's doorbell when the rank may wait
  /// for what moved.
  bool pumpAll(bool ring);
  void awaitRelatedFailures();

  std::vector<Link*> links_;
  LinkSet* set_;
  shm::DoorbellBlock* bell_;
  ProgressOwner owner_;
  IoSleep sleep_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace prism::tcp
