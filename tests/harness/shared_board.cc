#include "tests/harness/shared_board.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <new>

namespace prism::test {
namespace {

static_assert(std::atomic<uint32_t>::is_always_lock_free, "the board relies on lock-free atomics");

// Shared (not private) futex operations: waiters may be in other processes.
void futexWait(std::atomic<uint32_t>* word, uint32_t expected, long timeoutNs) {
  timespec ts{0, timeoutNs};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futexWakeAll(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

SharedBoard* SharedBoard::create(int nranks, size_t scratchBytes) {
  const size_t header = roundUp(sizeof(SharedBoard) + nranks * sizeof(Slot), 4096);
  const size_t total = header + roundUp(scratchBytes, 4096);
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("mmap of the shared board failed");
  auto* board = new (mem) SharedBoard();
  board->nranks_ = nranks;
  board->mappedBytes_ = total;
  board->scratchBytes_ = scratchBytes;
  board->scratch_ = scratchBytes ? static_cast<char*>(mem) + header : nullptr;
  for (int r = 0; r < nranks; ++r) {
    new (&board->slots()[r].state) std::atomic<int>(static_cast<int>(RankState::Running));
    board->slots()[r].message[0] = '\0';
  }
  return board;
}

void SharedBoard::destroy(SharedBoard* board) {
  if (board == nullptr) return;
  const size_t bytes = board->mappedBytes_;
  board->~SharedBoard();
  munmap(board, bytes);
}

void SharedBoard::barrier(std::chrono::milliseconds timeout) {
  if (anyFailed()) throw PeerFailed("another rank failed");
  const uint32_t generation = generation_.load();
  if (arrived_.fetch_add(1) + 1 == static_cast<uint32_t>(nranks_)) {
    arrived_.store(0);
    generation_.fetch_add(1);
    futexWakeAll(&generation_);
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int spins = 0;
  while (generation_.load() == generation) {
    if (anyFailed()) throw PeerFailed("another rank failed while this rank waited at a barrier");
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("harness barrier timed out after " +
                               std::to_string(timeout.count()) + " ms");
    }
    if (++spins < 64) continue;
    futexWait(&generation_, generation, 10'000'000);  // re-check failures every 10 ms
  }
}

void SharedBoard::finish(int rank, RankState state, const std::string& message) {
  Slot& slot = slots()[rank];
  const size_t n = std::min(message.size(), kMessageBytes - 1);
  std::memcpy(slot.message, message.data(), n);
  slot.message[n] = '\0';
  slot.state.store(static_cast<int>(state));
  if (state == RankState::Failed) {
    failed_.store(1);
    futexWakeAll(&generation_);
  }
}

RankState SharedBoard::state(int rank) const {
  return static_cast<RankState>(slots()[rank].state.load());
}

std::string SharedBoard::message(int rank) const { return slots()[rank].message; }

}  // namespace prism::test
