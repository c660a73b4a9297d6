// The slot FIFO between one sender and one receiver, in shared memory.
//
// Protocol: a single-producer/single-consumer ring. `head` counts slots ever committed
// (written only by the sender), `tail` counts slots ever released (written only by the
// receiver); both are 64-bit and never wrap in practice. Slot k lives at index k % slotCount.
// The sender writes a slot's payload and length, then stores head with release; the
// receiver loads head with acquire, reads the slot, then stores tail with release, after
// which the sender may overwrite it. Each side caches the other's counter and re-reads it
// only when the ring looks full (sender) or empty (receiver).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "transports/shm/shm_layout.h"

namespace prism::shm {

static_assert(std::atomic<uint64_t>::is_always_lock_free &&
                  std::atomic_ref<uint64_t>::is_always_lock_free,
              "FIFO counters must be lock-free to be shared between processes");

/// A FIFO's counters, each on its own cache line (they are written by different ranks).
struct FifoControl {
  alignas(kCacheLine) uint64_t head;
  alignas(kCacheLine) uint64_t tail;
};
static_assert(sizeof(FifoControl) == kFifoControlBytes);

/// Where one FIFO lies in this process's mapping.
struct FifoView {
  FifoControl* control;
  std::byte* slots;  ///< slotCount slots of slotStride bytes: a length line, then payload
  size_t slotStride;
  size_t slotBytes;
  uint64_t slotCount;

  /// The FIFO from `src` to `dst` inside the mapping at `base`.
  static FifoView at(std::byte* base, const ShmLayout& layout, int src, int dst);
};

/// The sender's end. Not thread-safe; one owner.
class FifoWriter {
 public:
  explicit FifoWriter(const FifoView& fifo);
  /// The next free slot (slotBytes long), or empty when every slot is in flight.
  std::span<std::byte> acquire();
  /// Publishes `bytes` (1..slotBytes) of the slot acquire() returned.
  void commit(size_t bytes);

 private:
  FifoView fifo_;
  uint64_t head_;      ///< our own counter; the shared copy equals it
  uint64_t tailSeen_;  ///< the receiver's counter when we last looked
  bool acquired_ = false;
};

/// The receiver's end. Not thread-safe; one owner.
class FifoReader {
 public:
  explicit FifoReader(const FifoView& fifo);
  /// The oldest committed, unreleased message, or empty.
  std::span<const std::byte> peek();
  /// Returns the slot of the message peek() returned to the sender. The message must not
  /// be read afterwards.
  void release();

 private:
  FifoView fifo_;
  uint64_t tail_;      ///< our own counter; the shared copy equals it
  uint64_t headSeen_;  ///< the sender's counter when we last looked
};

}  // namespace prism::shm
