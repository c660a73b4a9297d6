// Who drives a transport's I/O at a given moment: the rank's waiting thread or the
// transport's own I/O thread. While a thread of the rank waits in a call it drives the I/O
// itself, with no crossing to another thread and no wake-up; when it sleeps, or returns
// with work still to move, it hands the I/O back and the I/O thread drives it. The whole
// hand-over is one atomic word: the rank's hot path is a relaxed load, and claims happen
// once per call or sleep, never per message.
#pragma once

#include <atomic>
#include <cstdint>

namespace prism {

class ProgressOwner {
 public:
  /// True while the rank holds the I/O. Read by the rank only, which alone changes it.
  bool rankDrives() const { return (state_.load(std::memory_order_relaxed) & kRankOwns) != 0; }

  /// The rank's side: takes the I/O if the rank does not hold it, waiting for a pass of the
  /// I/O thread that is in flight to end (passes never block, so the wait is short).
  void claim();
  /// The rank's side: gives the I/O to the I/O thread, waking it if it is parked. Does
  /// nothing when the rank does not hold it.
  void handBack();

  /// The I/O thread's side: starts a pass unless the rank holds the I/O. Every change is a
  /// read-modify-write of the one word, so the rank's claim and the start of a pass are
  /// ordered: one of them sees the other.
  bool beginPass();
  void endPass();
  /// The I/O thread's side: waits until the rank hands the I/O back or `stop` is set.
  void park(const std::atomic<bool>& stop);
  /// Wakes a parked I/O thread so that it sees `stop` (call after setting it).
  void wakeParked() { state_.notify_all(); }

 private:
  static constexpr uint32_t kRankOwns = 1;  ///< the rank holds the I/O
  static constexpr uint32_t kIoBusy = 2;    ///< the I/O thread is inside a pass
  static constexpr uint32_t kIoParked = 4;  ///< the I/O thread waits for handBack()

  alignas(64) std::atomic<uint32_t> state_{0};
};

}  // namespace prism
