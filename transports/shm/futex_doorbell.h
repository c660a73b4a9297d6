// The doorbell of one rank, in shared memory, built on a process-shared futex.
#pragma once

#include <chrono>
#include <cstdint>

#include "transports/shm/shm_layout.h"
#include "transports/transport.h"

namespace prism::shm {

/// One rank's doorbell as it lies in the shared mapping (zero-initialized). `word` is the
/// futex; `sleepers` counts the owner's threads between arm() and disarm(). Both are only
/// accessed through std::atomic_ref.
struct alignas(kCacheLine) DoorbellBlock {
  uint32_t word;
  uint32_t sleepers;
};
static_assert(sizeof(DoorbellBlock) == kCacheLine);

/// The owner's side: arm, wait, disarm (see Doorbell in transports/transport.h).
class FutexDoorbell final : public Doorbell {
 public:
  explicit FutexDoorbell(DoorbellBlock* block) : block_(block) {}
  uint32_t arm() override;
  void wait(uint32_t ticket, std::chrono::microseconds timeout) override;
  void disarm() override;

 private:
  DoorbellBlock* block_;
};

/// The peers' side. Call after publishing a FIFO change the owner of `block` may be waiting
/// for (a message toward it, or a freed slot in a FIFO from it). Costs one fence and one
/// load unless the owner is armed.
void ringDoorbell(DoorbellBlock& block);

}  // namespace prism::shm
