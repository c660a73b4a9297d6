// Where everything lies in the one shared memory object of a shared-memory transport.
// Pure arithmetic, identical in every rank, so no pointers are ever stored in the mapping.
#pragma once

#include <cstddef>
#include <cstdint>

namespace prism::shm {

/// Everything two parties write lies on its own line of this size, so they never falsely
/// share one.
inline constexpr size_t kCacheLine = 64;

/// Bytes of one doorbell (one per rank) and of one FIFO's control block (the receiver's
/// tail counter).
inline constexpr size_t kDoorbellBytes = kCacheLine;
inline constexpr size_t kFifoControlBytes = kCacheLine;
/// Each slot starts with its header: the sequence number (u32), the message length (u32)
/// and the message's tag (u64). The payload follows at once, so a message of up to 48
/// bytes travels in the same cache line as its flag and its tag.
inline constexpr size_t kSlotHeaderBytes = 16;

constexpr size_t roundUpToLine(size_t bytes) {
  return (bytes + kCacheLine - 1) / kCacheLine * kCacheLine;
}

/// The object holds `ranks` doorbells, then one FIFO per ordered pair (src, dst), src != dst,
/// in src-major order. A FIFO is its control block followed by `slotCount` slots.
struct ShmLayout {
  int ranks = 0;
  size_t slotBytes = 0;
  int slotCount = 0;

  size_t slotStride() const { return roundUpToLine(kSlotHeaderBytes + slotBytes); }
  size_t fifoBytes() const {
    return kFifoControlBytes + static_cast<size_t>(slotCount) * slotStride();
  }
  size_t fifoCount() const { return static_cast<size_t>(ranks) * static_cast<size_t>(ranks - 1); }

  size_t doorbellOffset(int rank) const { return static_cast<size_t>(rank) * kDoorbellBytes; }

  size_t fifoOffset(int src, int dst) const {
    // Skip the missing (src, src) entry of row src.
    size_t index = static_cast<size_t>(src) * static_cast<size_t>(ranks - 1) +
                   static_cast<size_t>(dst < src ? dst : dst - 1);
    return static_cast<size_t>(ranks) * kDoorbellBytes + index * fifoBytes();
  }

  /// Size of the whole object. Callers bound ranks, slotBytes and slotCount first (see
  /// fitsInAddressSpace) so this cannot overflow.
  size_t totalBytes() const {
    return static_cast<size_t>(ranks) * kDoorbellBytes + fifoCount() * fifoBytes();
  }

  /// Whether totalBytes() is representable, checked without overflowing.
  bool fitsInAddressSpace() const {
    if (ranks < 1 || slotCount < 1 || slotBytes < 1 || slotBytes > (size_t{1} << 31)) {
      return false;
    }
    size_t fifo = 0;
    size_t all = 0;
    size_t slots = 0;
    if (__builtin_mul_overflow(static_cast<size_t>(slotCount), slotStride(), &slots) ||
        __builtin_add_overflow(slots, kFifoControlBytes, &fifo) ||
        __builtin_mul_overflow(fifoCount(), fifo, &all) ||
        __builtin_add_overflow(all, static_cast<size_t>(ranks) * kDoorbellBytes, &all)) {
      return false;
    }
    return all < (size_t{1} << 47);
  }
};

}  // namespace prism::shm
