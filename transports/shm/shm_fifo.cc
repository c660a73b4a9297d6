#include "transports/shm/shm_fifo.h"

#include <string>

#include "core/error.h"

namespace prism::shm {

// Checks here run per message, so they build their reason strings only on failure (check()
// would construct one every time).

namespace {

uint64_t& slotLength(const FifoView& fifo, uint64_t counter) {
  return *reinterpret_cast<uint64_t*>(fifo.slots + (counter % fifo.slotCount) * fifo.slotStride);
}

std::byte* slotPayload(const FifoView& fifo, uint64_t counter) {
  return fifo.slots + (counter % fifo.slotCount) * fifo.slotStride + kSlotHeaderBytes;
}

uint64_t loadAcquire(uint64_t& counter) {
  return std::atomic_ref<uint64_t>(counter).load(std::memory_order_acquire);
}

}  // namespace

FifoView FifoView::at(std::byte* base, const ShmLayout& layout, int src, int dst) {
  std::byte* fifo = base + layout.fifoOffset(src, dst);
  return FifoView{reinterpret_cast<FifoControl*>(fifo), fifo + kFifoControlBytes,
                  layout.slotStride(), layout.slotBytes, static_cast<uint64_t>(layout.slotCount)};
}

FifoWriter::FifoWriter(const FifoView& fifo)
    : fifo_(fifo),
      head_(loadAcquire(fifo.control->head)),
      tailSeen_(loadAcquire(fifo.control->tail)) {}

std::span<std::byte> FifoWriter::acquire() {
  if (head_ - tailSeen_ == fifo_.slotCount) {
    tailSeen_ = loadAcquire(fifo_.control->tail);
    if (head_ - tailSeen_ == fifo_.slotCount) return {};
  }
  acquired_ = true;
  return {slotPayload(fifo_, head_), fifo_.slotBytes};
}

void FifoWriter::commit(size_t bytes) {
  if (!acquired_) [[unlikely]] {
    throw Error(ncclInvalidUsage, "shm commit() without a slot from acquire()");
  }
  if (bytes < 1 || bytes > fifo_.slotBytes) [[unlikely]] {
    throw Error(ncclInvalidUsage, "shm commit of " + std::to_string(bytes) +
                                      " bytes; a slot holds 1.." + std::to_string(fifo_.slotBytes));
  }
  acquired_ = false;
  // The release store of head orders this length and the payload before it.
  slotLength(fifo_, head_) = bytes;
  ++head_;
  std::atomic_ref<uint64_t>(fifo_.control->head).store(head_, std::memory_order_release);
}

FifoReader::FifoReader(const FifoView& fifo)
    : fifo_(fifo),
      tail_(loadAcquire(fifo.control->tail)),
      headSeen_(tail_) {}  // only peek() learns of messages, so release() needs a peek first

std::span<const std::byte> FifoReader::peek() {
  if (tail_ == headSeen_) {
    headSeen_ = loadAcquire(fifo_.control->head);
    if (tail_ == headSeen_) return {};
    // A head that is behind us or more than a ring ahead means the peer wrote garbage.
    if (headSeen_ - tail_ > fifo_.slotCount) [[unlikely]] {
      throw Error(ncclRemoteError,
                  "shm FIFO head moved by " + std::to_string(headSeen_ - tail_) + " slots");
    }
  }
  uint64_t length = slotLength(fifo_, tail_);
  if (length < 1 || length > fifo_.slotBytes) [[unlikely]] {
    throw Error(ncclRemoteError, "shm message of " + std::to_string(length) +
                                     " bytes in a slot of " + std::to_string(fifo_.slotBytes));
  }
  return {slotPayload(fifo_, tail_), static_cast<size_t>(length)};
}

void FifoReader::release() {
  if (tail_ == headSeen_) [[unlikely]] {
    throw Error(ncclInvalidUsage, "shm release() without a message from peek()");
  }
  ++tail_;
  std::atomic_ref<uint64_t>(fifo_.control->tail).store(tail_, std::memory_order_release);
}

}  // namespace prism::shm
