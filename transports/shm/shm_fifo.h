// The slot FIFO between one sender and one receiver, in shared memory.
//
// Protocol: a single-producer/single-consumer ring. Message k (counting from 0) lives in
// slot k % slotCount, whose header holds a sequence number, the length and the message's
// tag. The sender writes the payload, length and tag, then stores k + 1 (as 32 bits) into
// the sequence with release; the receiver polls the sequence of the slot it expects next
// with acquire, so the flag, the length, the tag and the first 48 payload bytes reach it in
// one cache line (NCCL's LL protocol has
// the same aim). `tail` counts messages ever released (written only by the receiver, 64
// bits, never wraps in practice); after the receiver stores it with release the sender may
// reuse the slot, and the sender re-reads it only when the ring looks full.
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

/// A FIFO's control block: the receiver's counter, on a line of its own.
struct FifoControl {
  alignas(kCacheLine) uint64_t tail;
};
static_assert(sizeof(FifoControl) == kFifoControlBytes);

/// Where one FIFO lies in this process's mapping.
struct FifoView {
  FifoControl* control;
  std::byte* slots;  ///< slotCount slots of slotStride bytes: sequence, length, payload
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
  /// Publishes `bytes` (1..slotBytes) of the slot acquire() returned, with `tag`.
  void commit(size_t bytes, uint64_t tag);

 private:
  FifoView fifo_;
  uint64_t head_;      ///< messages committed so far
  uint64_t tailSeen_;  ///< the receiver's counter when we last looked
  bool acquired_ = false;
};

/// The receiver's end. Not thread-safe; one owner.
class FifoReader {
 public:
  explicit FifoReader(const FifoView& fifo);
  /// The oldest committed, unreleased message, or empty.
  std::span<const std::byte> peek();
  /// The tag of the message peek() returned.
  uint64_t tag() const;
  /// Returns the slot of the message peek() returned to the sender. The message must not
  /// be read afterwards.
  void release();

 private:
  FifoView fifo_;
  uint64_t tail_;       ///< our own counter; the shared copy equals it
  bool ready_ = false;  ///< the slot of message tail_ holds it (peek() saw its sequence)
  /// Lines past the header line that the last message took, when they were few: peek()
  /// fetches as many of the next slot's lines while it polls the header (see peek()).
  uint32_t nextLines_ = 0;
};

}  // namespace prism::shm
