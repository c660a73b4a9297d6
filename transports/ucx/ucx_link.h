// Everything this rank keeps for one UCX peer: a ring of slots per direction, both inside
// the worker's registered region.
//
// A message is one active message: a 24-byte header (sender's rank, u32 sequence number,
// u64 tag, and the sender's count of released messages of the other direction) and the
// slot's bytes. UCX sends short messages eagerly (the receiver copies them
// from UCX's buffer into the slot, once) and long ones by zero-copy rendezvous straight
// from the sender's registered slot into the receiver's (ucp_am_recv_data_nbx). Either way
// the message is published to the rank only when its bytes are in place, and it lands in
// the slot its sequence number names, so arrival order does not matter.
//
// Flow control is by credits: the receiver returns its count of released messages, on its
// next message to the sender or, once half the slots wait for it or the receiver has
// nothing else to do, in a header-only active message; the sender fills a slot only while
// fewer than `slots` messages are unreleased, and only once UCX finished reading the
// slot's previous message.
//
// The AM handlers run in whichever thread drives the worker (the rank or the I/O thread,
// ucx_engine.h); the rank reads what they publish through the per-slot `arrived_` words
// and `credited_`.
#pragma once

#include <ucp/api/ucp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transports/transport.h"

namespace prism::ucx {

class Engine;
class Link;
class Worker;

/// Active message ids.
enum : unsigned { kDataMessage = 17, kCreditMessage = 18, kGoodbyeMessage = 19 };

struct DataHeader {
  uint32_t from;
  uint32_t seq;
  uint64_t tag;
  uint64_t released;  ///< the sender's credit for the other direction, carried along
};
static_assert(sizeof(DataHeader) == 24);

struct CreditHeader {
  uint32_t from;
  uint32_t unused;
  uint64_t released;
};
static_assert(sizeof(CreditHeader) == 16);

/// The links of one transport, by peer (null where not connected), and their failures.
struct LinkSet {
  std::vector<std::unique_ptr<Link>> byPeer;
  std::atomic<bool> failed{false};
  /// Failures are numbered in the order they happen, so a report names the rank that died
  /// first first: survivors that give up close their endpoints too.
  std::atomic<uint64_t> failures{0};
  /// Bumped by every handler for something the rank may wait for (a message, a credit, a
  /// failure). Written only by the thread that drives the worker.
  uint64_t events = 0;

  /// Throws ncclRemoteError "rank R: connection to rank P lost: why[; ...]".
  [[noreturn]] void throwFailure(int rank) const;
};

class Link final : public SendConnection, public RecvConnection {
 public:
  /// `sendSlots` and `recvSlots` hold `slots` slots of `slotBytes` each, inside `worker`'s
  /// registered region.
  Link(int rank, int peer, size_t slotBytes, int slots, std::byte* sendSlots, std::byte* recvSlots,
       Worker& worker, Engine& engine, LinkSet& set);
  ~Link() override;

  std::span<std::byte> acquire() override;
  void commit(size_t bytes, uint64_t tag) override;
  /// Sends from registered user memory (Worker::registerMemory), always by rendezvous; the
  /// slot's sequence number and credit are used as for commit().
  bool commitFrom(const std::byte* data, size_t bytes, uint64_t tag) override;
  bool borrowedSendsDone() override;
  std::span<const std::byte> peek() override;
  uint64_t tag() const override { return recvTags_[next_ % slots_]; }
  void release() override;
  bool arrivedTag(uint64_t* tag) override;
  /// Messages that arrive after the hint, into registered user memory only, land at `dst`
  /// (rendezvous: UCX moves them there; eager: the one copy goes there, not to the slot).
  void receiveInto(std::byte* dst, size_t bytes, uint64_t tag) override;
  /// Drops the receiveInto() hint (the call ended).
  void forgetPlacement() { placement_ = {}; }
  /// Sends the credit for every release not yet reported to the peer. Called by the thread
  /// that drives the worker when it has nothing else to do, so a sender that waits for
  /// credit never waits for this rank's next message.
  void flushCredit();

  // The worker's side, from the AM handlers.
  ucs_status_t deliver(const DataHeader& header, void* data, size_t length,
                       const ucp_am_recv_param_t* param);
  void credit(uint64_t released);
  void goodbye() {
    saidGoodbye_ = true;
    ++set_.events;
  }
  void fail(const std::string& why);
  /// Whether UCX still works on a message or credit this link sent.
  bool sendsPending();
  /// Sends this rank's goodbye: after it, the peer treats this endpoint's close as orderly.
  void sayGoodbye();

  int peer() const { return peer_; }
  /// Whether the endpoint to the peer exists (set-up may have failed before it did).
  bool connected() const;
  /// Sends every message eagerly, never by rendezvous (for links over sockets, where the
  /// rendezvous saves no copy and costs a round trip per message).
  void sendEagerly() { eager_ = true; }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  bool saidGoodbye() const { return saidGoodbye_; }
  uint64_t failureNumber() const { return failureNumber_; }
  const std::string& failure() const { return failure_; }

 private:
  struct Arrival {
    Link* link;
    uint64_t seq;
  };
  static void onReceived(void* request, ucs_status_t status, size_t length, void* user);
  void sendCredit(uint64_t released);
  void arrived(uint64_t seq);
  /// True when UCX has finished with send slot `slot`'s previous message.
  bool sendSlotIdle(size_t slot);
  /// Sends the next message: `bytes` at `data` (a slot, or registered user memory `memh`),
  /// with UCP_AM_SEND_FLAG_* `flags`.
  void send(const std::byte* data, size_t bytes, uint64_t tag, ucp_mem_h memh, uint32_t flags);
  /// The hint's next place for a message of `length` bytes with `tag` (its registration in
  /// `memh`), or null when the message does not belong there.
  std::byte* placeOf(size_t length, uint64_t tag, ucp_mem_h& memh);
  /// Moves held message `seq` to `into` (registration `memh`): rendezvous data is fetched
  /// from the sender, eager data copied out of UCX's buffer, which is then released.
  void fetch(uint64_t seq, std::byte* into, ucp_mem_h memh);
  std::byte* sendSlot(uint64_t seq) const { return sendSlots_ + (seq % slots_) * slotBytes_; }
  std::byte* recvSlot(uint64_t seq) const { return recvSlots_ + (seq % slots_) * slotBytes_; }

  int rank_;
  int peer_;
  size_t slotBytes_;
  uint64_t slots_;
  std::byte* sendSlots_;
  std::byte* recvSlots_;
  Worker& worker_;
  Engine& engine_;
  LinkSet& set_;

  // Sending: the rank only, except `credited_`, which the credit handler raises.
  uint64_t committed_ = 0;
  bool eager_ = false;
  std::atomic<uint64_t> credited_{0};
  std::vector<DataHeader> sendHeaders_;     // alive until each slot's send completes
  std::vector<ucs_status_ptr_t> sendReqs_;  // per slot: the send UCX still works on, or null
  std::vector<bool> borrowed_;              // per slot: its message was sent from user memory

  // Receiving: the handlers publish (arrived_ holds seq + 1), the rank releases (next_).
  std::unique_ptr<std::atomic<uint64_t>[]> arrived_;
  std::vector<uint32_t> recvBytes_;
  std::vector<uint64_t> recvTags_;
  std::vector<std::byte*> recvData_;  // per slot: where the message lies (slot or placed)
  /// Per slot: a message whose header came but whose bytes UCX still holds (a rendezvous
  /// descriptor, or eager data UCX lets us keep), until its place is known: a receiveInto()
  /// hint, or its slot when the rank peeks at it without one. Null when none.
  struct Held {
    void* data = nullptr;
    bool rendezvous = false;
  };
  std::vector<Held> held_;
  uint64_t delivered_ = 0;  // messages whose handler ran (they run in order)
  struct Placement {
    std::byte* base = nullptr;
    size_t bytes = 0;
    size_t placed = 0;
    uint64_t tag = 0;
  } placement_;
  std::vector<Arrival> arrivals_;
  std::atomic<uint64_t> next_{0};
  std::vector<CreditHeader> creditHeaders_;  // the last `slots` credits: alive until sent
  std::vector<ucs_status_ptr_t> creditReqs_;
  uint64_t creditsSent_ = 0;     // credit messages sent (indexes creditHeaders_)
  uint64_t creditReported_ = 0;  // the highest release count the peer was told of
  CreditHeader goodbyeHeader_{};
  ucs_status_ptr_t goodbyeReq_ = nullptr;

  std::atomic<bool> failed_{false};
  bool saidGoodbye_ = false;
  uint64_t failureNumber_ = 0;
  std::string failure_;
};

}  // namespace prism::ucx
