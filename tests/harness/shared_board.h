// The state every rank of one runRanks call shares: a barrier, one result slot per rank
// and an optional scratch area. It lives in MAP_SHARED anonymous memory, so the same code
// serves ranks that are threads and ranks that are forked processes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace prism::test {

/// Thrown inside a rank that stops because another rank failed first. It is not a failure
/// of its own, so the harness does not report it.
class PeerFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How a rank ended.
enum class RankState : int { Running = 0, Passed = 1, Failed = 2, Stopped = 3 };

class SharedBoard {
 public:
  static constexpr size_t kMessageBytes = 6144;

  /// Maps a board for `nranks` ranks with `scratchBytes` of zeroed shared scratch.
  static SharedBoard* create(int nranks, size_t scratchBytes);
  static void destroy(SharedBoard* board);

  int nranks() const { return nranks_; }
  void* scratch() { return scratch_; }
  size_t scratchBytes() const { return scratchBytes_; }

  /// Waits until every rank arrives. Throws PeerFailed when a rank has failed, and
  /// std::runtime_error when `timeout` passes first.
  void barrier(std::chrono::milliseconds timeout);

  /// Records the final state of `rank` (with a message for Failed) and wakes waiters.
  void finish(int rank, RankState state, const std::string& message);
  RankState state(int rank) const;
  std::string message(int rank) const;
  bool anyFailed() const { return failed_.load() != 0; }

 private:
  struct Slot {
    std::atomic<int> state;
    char message[kMessageBytes];
  };

  SharedBoard() = default;
  Slot* slots() { return reinterpret_cast<Slot*>(this + 1); }
  const Slot* slots() const { return reinterpret_cast<const Slot*>(this + 1); }

  int nranks_ = 0;
  size_t mappedBytes_ = 0;
  size_t scratchBytes_ = 0;
  void* scratch_ = nullptr;
  std::atomic<uint32_t> arrived_{0};
  std::atomic<uint32_t> generation_{0};  // futex word: bumped when a barrier opens
  std::atomic<uint32_t> failed_{0};
};

}  // namespace prism::test
