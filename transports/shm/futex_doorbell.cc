// No lost wake-ups. The owner (O) and a ringer (R) run:
//   O: sleepers += 1; FENCE; ticket = word; check FIFOs; futex_wait(word, ticket)
//   R: publish head/tail;  FENCE; if (sleepers > 0) { word += 1; futex_wake(word) }
// where FENCE is a seq_cst fence. The two fences are totally ordered. If O's fence comes
// first, R's load of `sleepers` sees O's increment, so R rings. If R's fence comes first,
// O's FIFO check sees R's publish, so O makes progress instead of sleeping. When R rings,
// either O read `ticket` before R's increment, and futex_wait returns at once (the kernel
// compares word with ticket under the same lock futex_wake takes), or O read it after, and
// then the increment (a release, after the publish) made the publish visible to O's check.
// The futex is not FUTEX_PRIVATE: ranks in different processes, or threads that each
// mapped the object at their own address, share it through the kernel's inode-based key.
#include "transports/shm/futex_doorbell.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <ctime>

#include "base/error.h"

namespace prism::shm {

namespace {

static_assert(std::atomic_ref<uint32_t>::is_always_lock_free);

long futex(uint32_t* word, int op, uint32_t value, const timespec* timeout, uint32_t mask) {
  return ::syscall(SYS_futex, word, op, value, timeout, nullptr, mask);
}

// FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so wake-ups that do not
// change the word (and EINTR) do not stretch the total wait.
timespec toTimespec(std::chrono::steady_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

}  // namespace

uint32_t FutexDoorbell::arm() {
  std::atomic_ref<uint32_t>(block_->sleepers).fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return std::atomic_ref<uint32_t>(block_->word).load(std::memory_order_acquire);
}

void FutexDoorbell::wait(uint32_t ticket, std::chrono::microseconds timeout) {
  // steady_clock is CLOCK_MONOTONIC on Linux, the clock FUTEX_WAIT_BITSET uses by default.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::atomic_ref<uint32_t> word(block_->word);
  while (word.load(std::memory_order_acquire) == ticket) {
    if (std::chrono::steady_clock::now() >= deadline) return;
    timespec ts = toTimespec(deadline);
    if (futex(&block_->word, FUTEX_WAIT_BITSET, ticket, &ts, FUTEX_BITSET_MATCH_ANY) != 0) {
      if (errno == ETIMEDOUT) return;
      if (errno != EAGAIN && errno != EINTR) throwSystemError("futex wait on shm doorbell");
    }
  }
}

void FutexDoorbell::disarm() {
  std::atomic_ref<uint32_t>(block_->sleepers).fetch_sub(1, std::memory_order_seq_cst);
}

void ringDoorbell(DoorbellBlock& block) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (std::atomic_ref<uint32_t>(block.sleepers).load(std::memory_order_relaxed) == 0) return;
  std::atomic_ref<uint32_t>(block.word).fetch_add(1, std::memory_order_release);
  // A failed wake can only mean a bad address; the owner still wakes at its timeout.
  futex(&block.word, FUTEX_WAKE, INT_MAX, nullptr, 0);
}

}  // namespace prism::shm
