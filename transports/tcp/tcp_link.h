// Everything this rank keeps for one TCP peer: a ring of slots per direction and the
// sockets a message's bytes are striped across.
//
// Rings. Both are single-producer/single-consumer with 64-bit counters that never wrap:
//   send: the rank commits (committed_), the driver frees a slot once every stripe of it
//         is in the kernel (sent_). acquire() succeeds while committed_ - sent_ < slots.
//   recv: the driver publishes a message once all its stripes arrived (arrived_), the rank
//         releases it (released_). A socket reads a message for sequence number s only
//         once s < released_ + slots; until then it is left unread, so TCP flow control,
//         not a credit protocol, holds the sender back.
// The driver, which moves bytes between rings and sockets (pump), is the rank's waiting
// thread or the I/O thread, one at a time (tcp_engine.h); the hand-over between them orders
// their accesses, so the driver's fields below need no atomics.
// Wire format per socket: a 16-byte frame header (u32 sequence number, u32 message bytes,
// u64 message tag), then the socket's stripe of the message. Sockets without a stripe send nothing
// for that message. kGoodbye as the length announces an orderly close.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/socket.h"
#include "transports/transport.h"

namespace prism::tcp {

class Engine;
class Link;

/// The links of one transport, by peer (null where not connected). A failure is published
/// to the ranks (`failed`) only after the I/O pass that found it, and the report lists every
/// link failed by then: when a rank dies, the connections of survivors that give up
/// because of it close too, and the report must still name the rank that died first.
struct LinkSet {
  std::vector<std::unique_ptr<Link>> byPeer;
  std::atomic<bool> failed{false};
  /// Links number their failures in the order they happen, so a report can list the rank
  /// that died first first: survivors that give up close their connections too.
  mutable std::atomic<uint64_t> failures{0};

  /// Throws ncclRemoteError "rank R: connection to rank P lost: why[; rank Q: why]".
  [[noreturn]] void throwFailure(int rank) const;
};

inline constexpr uint32_t kGoodbye = 0xffffffffu;
/// Messages shorter than this go whole over one socket (chosen round robin).
inline constexpr size_t kMinStripeBytes = 64 * 1024;

struct FrameHeader {
  uint32_t seq;
  uint32_t bytes;
  uint64_t tag;
};
static_assert(sizeof(FrameHeader) == 16);

/// The part of message `seq` (`bytes` long) that socket `index` of `count` carries.
struct Stripe {
  bool carries;  ///< false: the socket sends nothing for this message
  size_t offset;
  size_t bytes;
};
Stripe stripeOf(uint64_t seq, size_t bytes, int index, int count);

class Link final : public SendConnection, public RecvConnection {
 public:
  /// `set` is the transport's set of links this one belongs to (for failure reports).
  /// `placement`: honour receiveInto() (with one socket).
  Link(int rank, int peer, size_t slotBytes, int slotCount, std::vector<net::Socket> sockets,
       const LinkSet* set, bool placement);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// The engine whose I/O thread drives this link when the rank does not; set once before
  /// any traffic.
  void attach(Engine* engine) { engine_ = engine; }

  // The rank's side (transport.h).
  std::span<std::byte> acquire() override;
  void commit(size_t bytes, uint64_t tag) override;
  std::span<const std::byte> peek() override;
  uint64_t tag() const override;
  void release() override;
  /// With placement on, one socket, and while the rank drives the link (else ignored): the body of
  /// each later message carrying `tag` is read straight into `dst` until `bytes` are placed.
  void receiveInto(std::byte* dst, size_t bytes, uint64_t tag) override;
  /// Drops the receiveInto() hint; the rest of a message being read there goes to its slot
  /// instead. The rank only, while it drives the link.
  void forgetPlacement();

  // The driver's side.
  /// Moves whatever can move without blocking. Returns whether anything did; sets
  /// `wake` when the rank may have been waiting for it. Records errors (failed()).
  bool pump(bool& wake);
  /// Marks the link failed if the peer closed a socket without a goodbye having been read,
  /// even where unread messages still wait for ring space (so pump() cannot reach the end
  /// of the stream). Used once another link failed, to report every peer that is gone.
  void probeHangup();
  /// True once every committed message is in the kernel (or the link failed).
  bool drained() const;
  /// Sends the goodbye frame on every socket, waiting at most until `deadline`.
  void sayGoodbye(net::Deadline deadline);
  const std::vector<net::Socket>& sockets() const { return sockets_; }

  /// Whether this link failed; its reason (failure()) is set before this turns true.
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  const std::string& failure() const { return failure_; }
  /// Where this link's failure came among the set's (valid once failed()).
  uint64_t failureNumber() const { return failureNumber_; }
  int peer() const { return peer_; }

 private:
  struct SendCursor {
    uint64_t seq = 0;  ///< next message this socket considers
    size_t done = 0;   ///< bytes of header + stripe already written
  };
  struct RecvCursor {
    FrameHeader header{};
    size_t headerGot = 0;
    bool inBody = false;
    uint64_t seq = 0;  ///< the header's sequence number, widened
    Stripe stripe{};
    size_t bodyGot = 0;
    bool placed = false;  ///< where the body goes is decided (place())
    bool goodbye = false;
  };

  bool pumpSend(int index);
  bool pumpRecv(int index);
  /// Decides where the body of message `seq` goes, when its body starts (its slot free).
  void place(uint64_t seq, const FrameHeader& header);
  void finishStripe(uint64_t seq, const FrameHeader& header, size_t stripeBytes);
  void fail(const std::string& why);
  void throwIfFailed() const;
  std::byte* sendSlot(uint64_t seq) { return sendSlots_.data() + (seq % slots_) * slotBytes_; }
  std::byte* recvSlot(uint64_t seq) { return recvSlots_.data() + (seq % slots_) * slotBytes_; }

  const int rank_;
  const int peer_;
  const size_t slotBytes_;
  const uint64_t slots_;
  Engine* engine_ = nullptr;
  std::vector<net::Socket> sockets_;

  // Send ring.
  std::vector<std::byte> sendSlots_;
  std::vector<uint32_t> sendBytes_;  ///< per slot, written by the rank before committed_
  std::vector<uint64_t> sendTags_;   ///< per slot, written by the rank before committed_
  alignas(64) std::atomic<uint64_t> committed_{0};
  alignas(64) std::atomic<uint64_t> sent_{0};
  std::vector<SendCursor> sendCursors_;  ///< driver only

  // Receive ring.
  std::vector<std::byte> recvSlots_;
  std::vector<std::byte*> recvData_;  ///< per slot: the message's bytes (its slot or placed)
  std::vector<uint32_t> recvBytes_;   ///< per slot, written by the driver before arrived_
  std::vector<uint64_t> recvTags_;    ///< per slot, written by the driver before arrived_
  alignas(64) std::atomic<uint64_t> arrived_{0};
  alignas(64) std::atomic<uint64_t> released_{0};
  std::vector<RecvCursor> recvCursors_;  ///< driver only
  std::vector<int64_t> expected_;        ///< per slot: message bytes, -1 before a header
  std::vector<uint64_t> expectedTags_;   ///< per slot: the tag the message's frames carry
  std::vector<size_t> got_;              ///< per slot: stripe bytes arrived
  std::vector<std::byte*> placedAt_;     ///< per slot: where the body goes (null: the slot)
  /// The receiveInto() hint: written by the rank while it drives, read by the driver.
  struct Placement {
    std::byte* base = nullptr;
    size_t bytes = 0;
    size_t placed = 0;  ///< bytes of the hint's messages seen so far, in order
    uint64_t tag = 0;
  } placement_;

  // Caches of the other side's counters, so each side touches the shared line only when
  // its ring looks full or empty.
  uint64_t sentLocal_ = 0;     ///< driver: its own sent_
  uint64_t arrivedLocal_ = 0;  ///< driver: its own arrived_
  uint64_t releasedSeen_ = 0;  ///< driver: released_ when last read
  uint64_t sentSeen_ = 0;      ///< rank: sent_ when last read
  uint64_t arrivedSeen_ = 0;   ///< rank: arrived_ when last read
  const LinkSet* set_;
  const bool placementEnabled_;

  std::atomic<bool> failed_{false};
  std::string failure_;         ///< written once, before failed_ turns true
  uint64_t failureNumber_ = 0;  ///< LinkSet::failures when this link failed; before failed_
};

}  // namespace prism::tcp
