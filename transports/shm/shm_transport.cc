// The shared-memory transport: every rank maps one object holding a FIFO for each ordered
// pair of ranks and a doorbell for each rank (layout in shm_layout.h). Sending is writing
// into the peer-bound FIFO in place; nothing is allocated or copied per message beyond what
// the caller writes into the slot.
#include "transports/shm/shm_transport.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/setup_channel.h"
#include "transports/shm/futex_doorbell.h"
#include "transports/shm/shm_fifo.h"
#include "transports/shm/shm_layout.h"
#include "transports/shm/shm_rendezvous.h"
#include "transports/shm/shm_segment.h"
#include "transports/transport.h"

namespace prism {

namespace {

using shm::DoorbellBlock;

// A commit toward `peer` rings its doorbell: it may be waiting for a message.
class ShmSendConnection final : public SendConnection {
 public:
  ShmSendConnection(const shm::FifoView& fifo, DoorbellBlock* peerBell, bool streaming)
      : fifo_(fifo), peerBell_(peerBell), streaming_(streaming) {}
  std::span<std::byte> acquire() override { return fifo_.acquire(); }
  void commit(size_t bytes, uint64_t tag) override {
    fifo_.commit(bytes, tag);
    shm::ringDoorbell(*peerBell_);
  }
  bool streamingWrites() const override { return streaming_; }

 private:
  shm::FifoWriter fifo_;
  DoorbellBlock* peerBell_;
  bool streaming_;
};

// A release rings the sender's doorbell: it may be waiting for a free slot.
class ShmRecvConnection final : public RecvConnection {
 public:
  ShmRecvConnection(const shm::FifoView& fifo, DoorbellBlock* peerBell)
      : fifo_(fifo), peerBell_(peerBell) {}
  std::span<const std::byte> peek() override { return fifo_.peek(); }
  uint64_t tag() const override { return fifo_.tag(); }
  void release() override {
    fifo_.release();
    shm::ringDoorbell(*peerBell_);
  }

 private:
  shm::FifoReader fifo_;
  DoorbellBlock* peerBell_;
};

class ShmTransport final : public Transport {
 public:
  ShmTransport(int rank, const shm::ShmLayout& layout, shm::ShmSegment segment, bool streamingSlots)
      : layout_(layout),
        segment_(std::move(segment)),
        rank_(rank),
        doorbell_(bell(rank)),
        sends_(static_cast<size_t>(layout.ranks)),
        recvs_(static_cast<size_t>(layout.ranks)) {
    // The creator allocated and zeroed every page once (fallocate); each rank maps the
    // pages it uses now, not during its first messages (a first touch costs about 2.8 ms
    // per MB on the target VMs).
    segment_.prefault(0, layout_.doorbellOffset(layout_.ranks));
    for (int peer = 0; peer < layout_.ranks; ++peer) {
      if (peer == rank_) continue;
      segment_.prefault(layout_.fifoOffset(rank_, peer), layout_.fifoBytes());
      segment_.prefault(layout_.fifoOffset(peer, rank_), layout_.fifoBytes());
      sends_[static_cast<size_t>(peer)] = std::make_unique<ShmSendConnection>(
          shm::FifoView::at(segment_.data(), layout_, rank_, peer), bell(peer), streamingSlots);
      recvs_[static_cast<size_t>(peer)] = std::make_unique<ShmRecvConnection>(
          shm::FifoView::at(segment_.data(), layout_, peer, rank_), bell(peer));
    }
  }

  const char* name() const override { return "shm"; }
  // Direct access to a peer's buffers (single copy) is future work.
  uint32_t caps() const override { return kCapNone; }
  int rank() const override { return rank_; }
  int size() const override { return layout_.ranks; }
  size_t slotBytes() const override { return layout_.slotBytes; }
  int slotCount() const override { return layout_.slotCount; }
  SendConnection& sendTo(int peer) override { return *sends_[checkedPeer(peer)]; }
  RecvConnection& recvFrom(int peer) override { return *recvs_[checkedPeer(peer)]; }
  Doorbell& doorbell() override { return doorbell_; }
  DoorbellBlock* ownBell() const { return bell(rank_); }

 private:
  DoorbellBlock* bell(int r) const {
    return reinterpret_cast<DoorbellBlock*>(segment_.data() + layout_.doorbellOffset(r));
  }

  size_t checkedPeer(int peer) const {
    if (peer < 0 || peer >= layout_.ranks || peer == rank_) [[unlikely]] {
      throw Error(ncclInvalidArgument, "shm transport of rank " + std::to_string(rank_) +
                                           " has no connection to peer " + std::to_string(peer));
    }
    return static_cast<size_t>(peer);
  }

  shm::ShmLayout layout_;
  shm::ShmSegment segment_;  // declared first among the views into it, destroyed last
  int rank_;
  shm::FutexDoorbell doorbell_;
  std::vector<std::unique_ptr<ShmSendConnection>> sends_;  // by peer; null for this rank
  std::vector<std::unique_ptr<ShmRecvConnection>> recvs_;
};

}  // namespace

shm::DoorbellBlock* shm::ownDoorbellBlock(Transport& transport) {
  auto* shmTransport = dynamic_cast<ShmTransport*>(&transport);
  check(shmTransport != nullptr, ncclInternalError, "not a shared-memory transport");
  return shmTransport->ownBell();
}

std::unique_ptr<Transport> createShmTransport(SetupChannel& setup,
                                              const ShmTransportOptions& options) {
  shm::ShmLayout layout{setup.size(), options.slotBytes, options.slotCount};
  shm::ShmSegment segment = shm::mapSharedSegment(setup, options.name, layout);
  return std::make_unique<ShmTransport>(setup.rank(), layout, std::move(segment),
                                        options.streamingSlots);
}

}  // namespace prism
