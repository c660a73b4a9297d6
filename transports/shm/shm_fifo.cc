#include "transports/shm/shm_fifo.h"

#include <string>

#include "base/error.h"

namespace prism::shm {

// Checks here run per message, so they build their reason strings only on failure (check()
// would construct one every time).

namespace {

std::byte* slotHeader(const FifoView& fifo, uint64_t counter) {
  return fifo.slots + (counter % fifo.slotCount) * fifo.slotStride;
}

/// The slot header (shm_layout.h). Sequence numbers travel as 32 bits: the receiver knows
/// the 64-bit counter it expects, and no slot is 2^32 messages behind.
struct SlotHeader {
  uint32_t sequence;
  uint32_t length;
  uint64_t tag;
};
static_assert(sizeof(SlotHeader) == kSlotHeaderBytes);

SlotHeader& header(const FifoView& fifo, uint64_t counter) {
  return *reinterpret_cast<SlotHeader*>(slotHeader(fifo, counter));
}

std::byte* slotPayload(const FifoView& fifo, uint64_t counter) {
  return slotHeader(fifo, counter) + kSlotHeaderBytes;
}

/// The most lines past the header that peek() fetches ahead: up to 256 + 48 bytes. A
/// receiver prefetching 4 lines of every message slowed 1 KiB messages (the sender then
/// wins those lines back line by line), so longer messages are not fetched ahead.
constexpr uint64_t kPrefetchedLines = 4;

template <class T>
T loadAcquire(T& counter) {
  return std::atomic_ref<T>(counter).load(std::memory_order_acquire);
}

}  // namespace

FifoView FifoView::at(std::byte* base, const ShmLayout& layout, int src, int dst) {
  std::byte* fifo = base + layout.fifoOffset(src, dst);
  return FifoView{reinterpret_cast<FifoControl*>(fifo), fifo + kFifoControlBytes,
                  layout.slotStride(), layout.slotBytes, static_cast<uint64_t>(layout.slotCount)};
}

// A FIFO is empty when its ends are made, so the writer starts where the reader stands.
FifoWriter::FifoWriter(const FifoView& fifo)
    : fifo_(fifo), head_(loadAcquire(fifo.control->tail)), tailSeen_(head_) {}

std::span<std::byte> FifoWriter::acquire() {
  if (head_ - tailSeen_ == fifo_.slotCount) {
    tailSeen_ = loadAcquire(fifo_.control->tail);
    if (head_ - tailSeen_ == fifo_.slotCount) return {};
  }
  acquired_ = true;
  return {slotPayload(fifo_, head_), fifo_.slotBytes};
}

void FifoWriter::commit(size_t bytes, uint64_t tag) {
  if (!acquired_) [[unlikely]] {
    throw Error(ncclInvalidUsage, "shm commit() without a slot from acquire()");
  }
  if (bytes < 1 || bytes > fifo_.slotBytes) [[unlikely]] {
    throw Error(ncclInvalidUsage, "shm commit of " + std::to_string(bytes) +
                                      " bytes; a slot holds 1.." + std::to_string(fifo_.slotBytes));
  }
  acquired_ = false;
  // The release store of the sequence orders the length, the tag and the payload before it.
  SlotHeader& h = header(fifo_, head_);
  h.length = static_cast<uint32_t>(bytes);
  h.tag = tag;
  ++head_;
  std::atomic_ref<uint32_t>(h.sequence)
      .store(static_cast<uint32_t>(head_), std::memory_order_release);
}

FifoReader::FifoReader(const FifoView& fifo)
    : fifo_(fifo), tail_(loadAcquire(fifo.control->tail)) {}

std::span<const std::byte> FifoReader::peek() {
  if (!ready_) {
    const uint32_t sequence = loadAcquire(header(fifo_, tail_).sequence);
    // A message past 48 bytes spills into more lines, which the receiver would fetch only
    // after the header's, one transfer later. Calls repeat their sizes, so the lines the
    // last message took are fetched alongside the header; what they hold is read only
    // after the sequence, so a line fetched early is never used.
    for (uint32_t line = 1; line <= nextLines_; ++line)
      __builtin_prefetch(slotHeader(fifo_, tail_) + line * kCacheLine, 0, 3);
    if (sequence != static_cast<uint32_t>(tail_ + 1)) {
      // Not written yet, the slot still holds the message a ring earlier (or nothing, on
      // the first ring). Anything else means the peer wrote garbage.
      const uint32_t previous =
          static_cast<uint32_t>(tail_ + 1 > fifo_.slotCount ? tail_ + 1 - fifo_.slotCount : 0);
      if (sequence != previous) [[unlikely]] {
        throw Error(ncclRemoteError, "shm slot holds message " + std::to_string(sequence) +
                                         " where " + std::to_string(tail_ + 1) + " or " +
                                         std::to_string(previous) + " belongs");
      }
      return {};
    }
    ready_ = true;
  }
  const uint64_t length = header(fifo_, tail_).length;
  if (length < 1 || length > fifo_.slotBytes) [[unlikely]] {
    throw Error(ncclRemoteError, "shm message of " + std::to_string(length) +
                                     " bytes in a slot of " + std::to_string(fifo_.slotBytes));
  }
  const uint64_t extraLines = (kSlotHeaderBytes + length - 1) / kCacheLine;
  nextLines_ = extraLines <= kPrefetchedLines ? static_cast<uint32_t>(extraLines) : 0;
  return {slotPayload(fifo_, tail_), static_cast<size_t>(length)};
}

uint64_t FifoReader::tag() const { return header(fifo_, tail_).tag; }

void FifoReader::release() {
  if (!ready_) [[unlikely]] {
    throw Error(ncclInvalidUsage, "shm release() without a message from peek()");
  }
  ready_ = false;
  ++tail_;
  std::atomic_ref<uint64_t>(fifo_.control->tail).store(tail_, std::memory_order_release);
}

}  // namespace prism::shm
