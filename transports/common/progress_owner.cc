#include "transports/common/progress_owner.h"

#include <sched.h>

namespace prism {

void ProgressOwner::claim() {
  if (rankDrives()) return;
  state_.fetch_or(kRankOwns, std::memory_order_acq_rel);
  // The I/O thread may be off its core in the middle of a pass, hence the yield.
  for (int spins = 0; (state_.load(std::memory_order_acquire) & kIoBusy) != 0; ++spins) {
    if (spins > 64) sched_yield();
  }
}

void ProgressOwner::handBack() {
  if (!rankDrives()) return;
  const uint32_t old = state_.fetch_and(~kRankOwns, std::memory_order_acq_rel);
  if ((old & kIoParked) != 0) state_.notify_one();
}

bool ProgressOwner::beginPass() {
  const uint32_t old = state_.fetch_or(kIoBusy, std::memory_order_acq_rel);
  if ((old & kRankOwns) == 0) return true;
  state_.fetch_and(~kIoBusy, std::memory_order_release);
  return false;
}

void ProgressOwner::endPass() { state_.fetch_and(~kIoBusy, std::memory_order_release); }

void ProgressOwner::park(const std::atomic<bool>& stop) {
  uint32_t seen = state_.fetch_or(kIoParked, std::memory_order_acq_rel) | kIoParked;
  while ((seen & kRankOwns) != 0 && !stop.load(std::memory_order_acquire)) {
    state_.wait(seen, std::memory_order_acquire);
    seen = state_.load(std::memory_order_acquire);
  }
  state_.fetch_and(~kIoParked, std::memory_order_acq_rel);
}

}  // namespace prism
