// Everything this rank keeps for one peer reached through an NCCL network plugin: a send
// comm and a receive comm, and a ring of slots per direction in memory registered once with
// each comm.
//
// A message is one plugin send: a 16-byte header (tag, length, sequence number, flags) and
// the slot's bytes, sent from the header's place just before the slot. The receiver keeps a
// receive posted for every free slot of its ring, so a message lands straight in the slot
// its order names; the plugin matches sends to receives in posting order. Flow control is
// the plugin's own: a sender has at most `slots` messages in flight, and a message
// completes only once the receiver had a receive posted for it, which it posts again only
// when the rank released the slot.
//
// Plugins allow a handful of outstanding requests per comm (NCCL_NET_MAX_REQUESTS); sends
// and receives beyond that wait in the ring and are posted as earlier ones complete.
//
// A failed request fails the link, and the link reports it only where the rank needs the
// peer: acquire() toward it, or peek() with nothing left from it. A peer that finished and
// closed is no failure for a rank that no longer waits on it, whatever the plugin says of
// the receives still posted to it.
//
// Every method runs in the thread that drives the plugin at the time (the rank or the I/O
// thread, net_engine.h), which ProgressOwner makes exclusive: the link needs no atomics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nccl.h"
#include "transports/transport.h"

namespace prism::net {

class Engine;
class Plugin;

/// Bytes before each slot's payload: the header sits at its end, just before the payload,
/// so the payload stays cache-line aligned.
inline constexpr size_t kSlotLead = 64;

struct MessageHeader {
  uint64_t tag;
  uint32_t bytes;
  uint32_t seqAndFlags;  ///< low 31 bits: the sender's message number; top bit: goodbye
};
static_assert(sizeof(MessageHeader) == 16);

class Link final : public SendConnection, public RecvConnection {
 public:
  /// `sendRing` and `recvRing` each hold `slots` slots of kSlotLead + `slotBytes` bytes.
  Link(int rank, int peer, size_t slotBytes, int slots, std::byte* sendRing, std::byte* recvRing,
       Plugin& plugin, Engine& engine);
  ~Link() override;

  /// Set-up: takes the connected comms and registers the rings with them.
  void attach(void* sendComm, void* recvComm);

  std::span<std::byte> acquire() override;
  void commit(size_t bytes, uint64_t tag) override;
  std::span<const std::byte> peek() override;
  uint64_t tag() const override { return peekedTag_; }
  void release() override;

  /// Tests outstanding requests and posts what waits; returns whether anything completed
  /// (a message arrived or a slot came free: something the rank may wait for).
  bool poll();
  /// Whether a committed message has not yet left (the plugin still works on it).
  bool sendsPending() const { return completedSends_ < committed_; }
  /// Teardown, in three steps over every link, so that no link waits on another: leave()
  /// asks poll() to send the goodbye after the last message has left; left() says when
  /// this link's goodbye has gone and the peer's has come (or the link failed); close()
  /// then closes the comms. Closing only after the peer's goodbye keeps the close from
  /// failing receives the peer still completes: plugins may report an error on every
  /// request of a comm once its connection ended.
  void leave();
  bool left() const;
  void close();

  int peer() const { return peer_; }
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  uint64_t failureOrder() const { return failureOrder_; }
  /// Marks the link failed (the first reason sticks); `order` numbers failures across links.
  void fail(std::string why, uint64_t order);

 private:
  std::byte* sendSlot(uint64_t seq) const { return sendRing_ + (seq % slots_) * stride_; }
  std::byte* recvSlot(uint64_t seq) const { return recvRing_ + (seq % slots_) * stride_; }
  void postSends();
  void postGoodbye();
  void postReceives();
  bool pollSends();
  bool pollReceives();
  /// Checks a completed receive; false (and the link failed) when it is malformed.
  bool accepted(uint64_t seq, size_t received);
  void failWith(const char* what, ncclResult_t r);
  /// Throws ncclRemoteError naming the peer and the plugin's reason.
  [[noreturn]] void throwFailure() const;

  int rank_;
  int peer_;
  size_t slotBytes_;
  size_t stride_;
  uint64_t slots_;
  std::byte* sendRing_;
  std::byte* recvRing_;
  Plugin& plugin_;
  Engine& engine_;
  void* sendComm_ = nullptr;
  void* recvComm_ = nullptr;
  void* sendMr_ = nullptr;
  void* recvMr_ = nullptr;

  // Sending: committed_ >= postedSends_ >= completedSends_, each a message count.
  uint64_t committed_ = 0;
  uint64_t postedSends_ = 0;
  uint64_t completedSends_ = 0;
  std::vector<void*> sendReqs_;  // per slot
  std::vector<bool> sendDone_;

  // Receiving: postedRecvs_ >= arrived_ >= next_ (released), each a message count.
  uint64_t postedRecvs_ = 0;
  uint64_t arrived_ = 0;
  uint64_t next_ = 0;
  std::vector<void*> recvReqs_;  // per slot
  uint64_t peekedTag_ = 0;
  bool peerLeft_ = false;
  bool leaving_ = false;
  bool goodbyePosted_ = false;

  std::string failure_;
  uint64_t failureOrder_ = 0;
};

}  // namespace prism::net
