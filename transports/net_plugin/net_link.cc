#include "transports/net_plugin/net_link.h"

#include <cstring>

#include "base/error.h"
#include "prism/nccl_net_abi.h"
#include "transports/common/link_failures.h"
#include "transports/net_plugin/net_engine.h"
#include "transports/net_plugin/net_plugin.h"

namespace prism::net {

namespace {

constexpr uint32_t kGoodbye = 1u << 31;
constexpr uint32_t kSeqMask = kGoodbye - 1;

MessageHeader* headerOf(std::byte* slot) {
  return reinterpret_cast<MessageHeader*>(slot + kSlotLead - sizeof(MessageHeader));
}

}  // namespace

Link::Link(int rank, int peer, size_t slotBytes, int slots, std::byte* sendRing,
           std::byte* recvRing, Plugin& plugin, Engine& engine)
    : rank_(rank),
      peer_(peer),
      slotBytes_(slotBytes),
      stride_(kSlotLead + slotBytes),
      slots_(static_cast<uint64_t>(slots)),
      sendRing_(sendRing),
      recvRing_(recvRing),
      plugin_(plugin),
      engine_(engine),
      sendReqs_(slots_, nullptr),
      sendDone_(slots_, false),
      recvReqs_(slots_, nullptr) {}

Link::~Link() { close(); }

void Link::attach(void* sendComm, void* recvComm) {
  sendComm_ = sendComm;
  recvComm_ = recvComm;
  const size_t ring = stride_ * slots_;
  if (ncclResult_t r = plugin_.regMr(sendComm_, sendRing_, ring, &sendMr_); r != ncclSuccess) {
    failWith("regMr of the send ring failed", r);
    return;
  }
  if (ncclResult_t r = plugin_.regMr(recvComm_, recvRing_, ring, &recvMr_); r != ncclSuccess) {
    failWith("regMr of the receive ring failed", r);
    return;
  }
  postReceives();
}

void Link::fail(std::string why, uint64_t order) {
  if (!failure_.empty()) return;
  failure_ = std::move(why);
  failureOrder_ = order;
}

void Link::failWith(const char* what, ncclResult_t r) {
  fail(std::string(what) + " (" + ncclGetErrorString(r) + ", plugin " + plugin_.name() + ")",
       engine_.nextFailure());
}

void Link::throwFailure() const {
  throwLinkFailures(rank_, {{peer_, failureOrder_, failure_}}, "plugin connection");
}

std::span<std::byte> Link::acquire() {
  engine_.claim();
  if (failed()) [[unlikely]]
    throwFailure();
  if (committed_ - completedSends_ >= slots_) {
    pollSends();
    if (committed_ - completedSends_ >= slots_) return {};
  }
  return {sendSlot(committed_) + kSlotLead, slotBytes_};
}

void Link::commit(size_t bytes, uint64_t tag) {
  if (bytes == 0 || bytes > slotBytes_) [[unlikely]] {
    throw Error(ncclInternalError, "net plugin transport: message of " + std::to_string(bytes) +
                                       " bytes does not fit a slot");
  }
  engine_.claim();
  *headerOf(sendSlot(committed_)) = {tag, static_cast<uint32_t>(bytes),
                                     static_cast<uint32_t>(committed_) & kSeqMask};
  sendDone_[committed_ % slots_] = false;
  ++committed_;
  postSends();
}

void Link::postSends() {
  while (!failed() && postedSends_ < committed_ &&
         postedSends_ - completedSends_ < NCCL_NET_MAX_REQUESTS) {
    const size_t slot = postedSends_ % slots_;
    MessageHeader* header = headerOf(sendSlot(postedSends_));
    void* request = nullptr;
    const ncclResult_t r = plugin_.isend(sendComm_, header, sizeof(MessageHeader) + header->bytes,
                                         0, sendMr_, &request);
    if (r != ncclSuccess) {
      failWith("isend failed", r);
      return;
    }
    if (request == nullptr) return;  // the plugin asks to try again later
    sendReqs_[slot] = request;
    ++postedSends_;
  }
}

bool Link::pollSends() {
  bool moved = false;
  for (uint64_t seq = completedSends_; seq < postedSends_ && !failed(); ++seq) {
    const size_t slot = seq % slots_;
    if (sendDone_[slot]) continue;
    int done = 0;
    const ncclResult_t r = plugin_.test(sendReqs_[slot], &done, nullptr);
    if (r != ncclSuccess) {
      failWith("a send failed", r);
      break;
    }
    if (done == 0) continue;
    sendReqs_[slot] = nullptr;
    sendDone_[slot] = true;
  }
  while (completedSends_ < postedSends_ && sendDone_[completedSends_ % slots_]) {
    sendDone_[completedSends_ % slots_] = false;
    ++completedSends_;
    moved = true;
  }
  postSends();
  return moved;
}

void Link::postReceives() {
  while (!failed() && !peerLeft_ && postedRecvs_ - next_ < slots_ &&
         postedRecvs_ - arrived_ < NCCL_NET_MAX_REQUESTS) {
    const size_t slot = postedRecvs_ % slots_;
    void* request = nullptr;
    const ncclResult_t r = plugin_.irecv(recvComm_, headerOf(recvSlot(postedRecvs_)),
                                         sizeof(MessageHeader) + slotBytes_, 0, recvMr_, &request);
    if (r != ncclSuccess) {
      failWith("irecv failed", r);
      return;
    }
    if (request == nullptr) return;
    recvReqs_[slot] = request;
    ++postedRecvs_;
  }
}

bool Link::accepted(uint64_t seq, size_t received) {
  const MessageHeader& h = *headerOf(recvSlot(seq));
  if (received >= sizeof(MessageHeader) && (h.seqAndFlags & kGoodbye) != 0) {
    peerLeft_ = true;
    return false;
  }
  if (received < sizeof(MessageHeader) || h.bytes == 0 || h.bytes > slotBytes_ ||
      received != sizeof(MessageHeader) + h.bytes ||
      (h.seqAndFlags & kSeqMask) != (static_cast<uint32_t>(seq) & kSeqMask)) {
    fail("malformed message " + std::to_string(seq) + " (" + std::to_string(received) +
             " bytes; the plugin lost or reordered data)",
         engine_.nextFailure());
    return false;
  }
  return true;
}

bool Link::pollReceives() {
  // In order, stopping at the first receive still in flight: a goodbye must be seen before
  // the errors its close causes on the receives posted after it.
  bool moved = false;
  while (arrived_ < postedRecvs_ && !failed() && !peerLeft_) {
    const size_t slot = arrived_ % slots_;
    int done = 0;
    size_t received = 0;
    const ncclResult_t r = plugin_.test(recvReqs_[slot], &done, &received);
    if (r != ncclSuccess) {
      failWith("a receive failed", r);
      break;
    }
    if (done == 0) break;
    recvReqs_[slot] = nullptr;
    if (!accepted(arrived_, received)) break;
    ++arrived_;
    moved = true;
  }
  postReceives();
  return moved;
}

bool Link::poll() {
  if (failed() || sendComm_ == nullptr) return false;
  const bool sent = pollSends();
  if (leaving_ && !goodbyePosted_ && !sendsPending() && !failed()) postGoodbye();
  const bool received = pollReceives();
  // A new failure wakes the rank too: it may wait on this link.
  return sent || received || failed();
}

std::span<const std::byte> Link::peek() {
  engine_.claim();
  if (next_ == arrived_) {
    pollReceives();
    if (next_ == arrived_) {
      if (failed()) [[unlikely]]
        throwFailure();
      return {};
    }
  }
  std::byte* slot = recvSlot(next_);
  const MessageHeader& h = *headerOf(slot);
  peekedTag_ = h.tag;
  return {slot + kSlotLead, h.bytes};
}

void Link::release() {
  engine_.claim();
  ++next_;
  postReceives();
}

void Link::leave() { leaving_ = true; }

void Link::postGoodbye() {
  *headerOf(sendSlot(committed_)) = {0, 0,
                                     (static_cast<uint32_t>(committed_) & kSeqMask) | kGoodbye};
  sendDone_[committed_ % slots_] = false;
  ++committed_;
  goodbyePosted_ = true;
  postSends();
}

bool Link::left() const {
  return failed() || sendComm_ == nullptr || (goodbyePosted_ && !sendsPending() && peerLeft_);
}

void Link::close() {
  // Requests still outstanding belong to comms that are about to close; plugins free them
  // with their comms.
  if (sendMr_ != nullptr) (void)plugin_.deregMr(sendComm_, sendMr_);
  if (recvMr_ != nullptr) (void)plugin_.deregMr(recvComm_, recvMr_);
  if (sendComm_ != nullptr) (void)plugin_.closeSend(sendComm_);
  if (recvComm_ != nullptr) (void)plugin_.closeRecv(recvComm_);
  sendMr_ = recvMr_ = sendComm_ = recvComm_ = nullptr;
}

}  // namespace prism::net
