#include "transports/ucx/ucx_link.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "transports/common/link_failures.h"
#include "transports/ucx/ucx_api.h"
#include "transports/ucx/ucx_engine.h"
#include "transports/ucx/ucx_worker.h"

namespace prism::ucx {

namespace {

// UCX's default tcp segment (UCX_TCP_SEG_SIZE): eager messages up to it arrive in one
// fragment that UCX lends the receiver only during the handler.
constexpr size_t kTcpSegmentBytes = 64 * 1024;

}  // namespace

void LinkSet::throwFailure(int rank) const {
  std::vector<LinkFailure> failures;
  for (const auto& link : byPeer) {
    if (link && link->failed()) {
      failures.push_back({link->peer(), link->failureNumber(), link->failure()});
    }
  }
  throwLinkFailures(rank, std::move(failures), "ucx connection");
}

Link::Link(int rank, int peer, size_t slotBytes, int slots, std::byte* sendSlots,
           std::byte* recvSlots, Worker& worker, Engine& engine, LinkSet& set)
    : rank_(rank),
      peer_(peer),
      slotBytes_(slotBytes),
      slots_(static_cast<uint64_t>(slots)),
      sendSlots_(sendSlots),
      recvSlots_(recvSlots),
      worker_(worker),
      engine_(engine),
      set_(set),
      sendHeaders_(slots_),
      sendReqs_(slots_, nullptr),
      borrowed_(slots_, false),
      arrived_(new std::atomic<uint64_t>[slots_]),
      recvBytes_(slots_, 0),
      recvTags_(slots_, 0),
      recvData_(slots_, nullptr),
      held_(slots_),
      arrivals_(slots_),
      creditHeaders_(slots_),
      creditReqs_(slots_, nullptr) {
  for (uint64_t i = 0; i < slots_; ++i) arrived_[i].store(0, std::memory_order_relaxed);
}

Link::~Link() {
  for (Held& h : held_) {
    if (h.data != nullptr) ucx::api().am_data_release(worker_.handle(), h.data);
  }
  // UCX releases each request once it completes (or when the worker is destroyed).
  for (ucs_status_ptr_t r : sendReqs_) {
    if (r != nullptr) ucx::api().request_free(r);
  }
  for (ucs_status_ptr_t r : creditReqs_) {
    if (r != nullptr) ucx::api().request_free(r);
  }
  if (goodbyeReq_ != nullptr) ucx::api().request_free(goodbyeReq_);
}

bool Link::connected() const { return worker_.endpoint(peer_) != nullptr; }

bool Link::sendSlotIdle(size_t slot) {
  ucs_status_ptr_t& request = sendReqs_[slot];
  if (request == nullptr) return true;
  const ucs_status_t status = ucx::api().request_check_status(request);
  if (status == UCS_INPROGRESS) return false;
  ucx::api().request_free(request);
  request = nullptr;
  if (status != UCS_OK) fail(std::string("send failed: ") + ucx::api().status_string(status));
  return true;
}

bool Link::sendsPending() {
  for (size_t slot = 0; slot < slots_; ++slot) {
    if (!sendSlotIdle(slot)) return true;
    ucs_status_ptr_t& credit = creditReqs_[slot];
    if (credit == nullptr) continue;
    if (ucx::api().request_check_status(credit) == UCS_INPROGRESS) return true;
    ucx::api().request_free(credit);
    credit = nullptr;
  }
  return false;
}

std::span<std::byte> Link::acquire() {
  // Only this link's own failure stops a send: a rank that gives up after another peer
  // died must still reach the healthy peers with its notice. Receives report the whole
  // set's failures (peek).
  if (failed()) [[unlikely]]
    set_.throwFailure(rank_);
  const uint64_t c = committed_;
  if (c - credited_.load(std::memory_order_acquire) >= slots_) return {};
  engine_.claim();
  if (!sendSlotIdle(c % slots_)) return {};
  if (failed()) [[unlikely]]
    set_.throwFailure(rank_);
  return {sendSlot(c), slotBytes_};
}

void Link::commit(size_t bytes, uint64_t tag) {
  if (bytes == 0 || bytes > slotBytes_) [[unlikely]] {
    throw Error(ncclInternalError, "ucx transport: message of " + std::to_string(bytes) +
                                       " bytes does not fit a slot");
  }
  engine_.claim();
  borrowed_[committed_ % slots_] = false;
  send(sendSlot(committed_), bytes, tag, worker_.memory(), eager_ ? UCP_AM_SEND_FLAG_EAGER : 0);
}

bool Link::commitFrom(const std::byte* data, size_t bytes, uint64_t tag) {
  if (bytes == 0 || bytes > slotBytes_) return false;
  engine_.claim();
  ucp_mem_h memh = worker_.registrationOf(data, bytes);
  if (memh == nullptr) return false;
  borrowed_[committed_ % slots_] = true;
  // The receiver must be able to hold the bytes until it knows where they belong. A
  // rendezvous always lets it: it fetches them then, straight into its registered buffer.
  // Over sockets a rendezvous costs a round trip per message, and an eager message of
  // more than UCX's tcp segment arrives reassembled in memory the receiver may keep, so
  // such messages go eagerly on links that send eagerly.
  const bool eager = eager_ && bytes > kTcpSegmentBytes;
  send(data, bytes, tag, memh, eager ? UCP_AM_SEND_FLAG_EAGER : UCP_AM_SEND_FLAG_RNDV);
  return true;
}

bool Link::borrowedSendsDone() {
  engine_.claim();
  for (size_t slot = 0; slot < slots_; ++slot) {
    if (borrowed_[slot] && !sendSlotIdle(slot)) return false;
  }
  if (failed()) [[unlikely]]
    set_.throwFailure(rank_);
  return true;
}

void Link::send(const std::byte* data, size_t bytes, uint64_t tag, ucp_mem_h memh, uint32_t flags) {
  const uint64_t c = committed_;
  const size_t slot = c % slots_;
  const uint64_t released = next_.load(std::memory_order_relaxed);
  sendHeaders_[slot] = {static_cast<uint32_t>(rank_), static_cast<uint32_t>(c), tag, released};
  creditReported_ = released;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_MEMH | UCP_OP_ATTR_FIELD_FLAGS;
  param.memh = memh;
  param.flags = flags;
  ucs_status_ptr_t request =
      ucx::api().am_send_nbx(worker_.endpoint(peer_), kDataMessage, &sendHeaders_[slot],
                             sizeof(DataHeader), const_cast<std::byte*>(data), bytes, &param);
  if (UCS_PTR_IS_ERR(request)) [[unlikely]] {
    fail(std::string("send failed: ") + ucx::api().status_string(UCS_PTR_STATUS(request)));
    set_.throwFailure(rank_);
  }
  sendReqs_[slot] = request;
  committed_ = c + 1;
}

std::span<const std::byte> Link::peek() {
  if (set_.failed.load(std::memory_order_acquire)) [[unlikely]]
    set_.throwFailure(rank_);
  const uint64_t n = next_.load(std::memory_order_relaxed);
  if (arrived_[n % slots_].load(std::memory_order_acquire) != n + 1) {
    // Held for a hint that did not come (a reduction reads it from its slot).
    if (held_[n % slots_].data != nullptr) {
      engine_.claim();
      fetch(n, recvSlot(n), worker_.memory());
    }
    return {};
  }
  return {recvData_[n % slots_], recvBytes_[n % slots_]};
}

bool Link::arrivedTag(uint64_t* tag) {
  engine_.claim();
  const uint64_t n = next_.load(std::memory_order_relaxed);
  const bool arrived = arrived_[n % slots_].load(std::memory_order_acquire) == n + 1;
  if (!arrived && held_[n % slots_].data == nullptr) return false;
  *tag = recvTags_[n % slots_];
  return true;
}

void Link::receiveInto(std::byte* dst, size_t bytes, uint64_t tag) {
  engine_.claim();
  placement_ = {};
  if (worker_.registrationOf(dst, bytes) == nullptr) return;
  placement_ = {dst, bytes, 0, tag};
  // The hint's messages that came before it, in order: those already in their slots keep
  // their place in the sequence; those still held go straight to theirs.
  for (uint64_t s = next_.load(std::memory_order_relaxed); s < delivered_; ++s) {
    const size_t slot = s % slots_;
    if (recvTags_[slot] != tag) continue;
    if (held_[slot].data == nullptr) {
      placement_.placed += recvBytes_[slot];
      continue;
    }
    ucp_mem_h memh = nullptr;
    std::byte* at = placeOf(recvBytes_[slot], tag, memh);
    if (at == nullptr) break;
    fetch(s, at, memh);
  }
}

std::byte* Link::placeOf(size_t length, uint64_t tag, ucp_mem_h& memh) {
  Placement& p = placement_;
  if (p.base == nullptr || tag != p.tag || p.placed >= p.bytes || length > p.bytes - p.placed) {
    return nullptr;
  }
  std::byte* at = p.base + p.placed;
  p.placed += length;
  memh = worker_.registrationOf(at, length);
  return at;
}

void Link::fetch(uint64_t seq, std::byte* into, ucp_mem_h memh) {
  const size_t slot = seq % slots_;
  const Held held = held_[slot];
  held_[slot] = {};
  recvData_[slot] = into;
  const size_t length = recvBytes_[slot];
  if (!held.rendezvous) {
    std::memcpy(into, held.data, length);
    ucx::api().am_data_release(worker_.handle(), held.data);
    arrived(seq);
    return;
  }
  // Rendezvous: UCX moves the bytes from the sender's registered memory into `into`.
  arrivals_[slot] = {this, seq};
  ucp_request_param_t receive{};
  receive.op_attr_mask =
      UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMH;
  receive.cb.recv_am = &Link::onReceived;
  receive.user_data = &arrivals_[slot];
  receive.memh = memh;
  ucs_status_ptr_t request =
      ucx::api().am_recv_data_nbx(worker_.handle(), held.data, into, length, &receive);
  if (request == nullptr) {
    arrived(seq);
  } else if (UCS_PTR_IS_ERR(request)) {
    fail(std::string("receive failed: ") + ucx::api().status_string(UCS_PTR_STATUS(request)));
  }
}

void Link::release() {
  engine_.claim();
  const uint64_t released = next_.load(std::memory_order_relaxed) + 1;
  next_.store(released, std::memory_order_release);
  // Half a window of unreported releases goes back at once, so a streaming sender never
  // runs dry; less rides on this rank's next message to the peer (commit) or goes when
  // this rank idles (flushCredit).
  if (released - creditReported_ >= std::max<uint64_t>(1, slots_ / 2)) sendCredit(released);
}

void Link::flushCredit() {
  const uint64_t released = next_.load(std::memory_order_relaxed);
  if (released > creditReported_ && connected() && !failed()) sendCredit(released);
}

void Link::sendCredit(uint64_t released) {
  creditReported_ = released;
  // The header must live until UCX sent it, so each of the last `slots` credits has its own.
  const size_t k = creditsSent_++ % slots_;
  ucs_status_ptr_t& request = creditReqs_[k];
  while (request != nullptr && ucx::api().request_check_status(request) == UCS_INPROGRESS) {
    ucx::api().worker_progress(worker_.handle());
  }
  if (request != nullptr) ucx::api().request_free(request);
  request = nullptr;
  creditHeaders_[k] = {static_cast<uint32_t>(rank_), 0, released};
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = UCP_AM_SEND_FLAG_EAGER;
  request = ucx::api().am_send_nbx(worker_.endpoint(peer_), kCreditMessage, &creditHeaders_[k],
                                   sizeof(CreditHeader), nullptr, 0, &param);
  if (UCS_PTR_IS_ERR(request)) [[unlikely]] {
    fail(std::string("credit send failed: ") + ucx::api().status_string(UCS_PTR_STATUS(request)));
    request = nullptr;
  }
}

void Link::sayGoodbye() {
  if (failed() || !connected()) return;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = UCP_AM_SEND_FLAG_EAGER;
  goodbyeHeader_.from = static_cast<uint32_t>(rank_);
  goodbyeReq_ = ucx::api().am_send_nbx(worker_.endpoint(peer_), kGoodbyeMessage, &goodbyeHeader_,
                                       sizeof(CreditHeader), nullptr, 0, &param);
  if (UCS_PTR_IS_ERR(goodbyeReq_)) goodbyeReq_ = nullptr;
}

ucs_status_t Link::deliver(const DataHeader& header, void* data, size_t length,
                           const ucp_am_recv_param_t* param) {
  credit(header.released);
  const uint64_t base = next_.load(std::memory_order_acquire);
  const uint32_t ahead = header.seq - static_cast<uint32_t>(base);
  if (ahead >= slots_ || length == 0 || length > slotBytes_) [[unlikely]] {
    fail("protocol error: message " + std::to_string(header.seq) + " of " + std::to_string(length) +
         " bytes outside the window");
    return UCS_OK;  // drops the message
  }
  const uint64_t seq = base + ahead;
  const size_t slot = seq % slots_;
  recvBytes_[slot] = static_cast<uint32_t>(length);
  recvTags_[slot] = header.tag;
  delivered_ = std::max(delivered_, seq + 1);
  const bool rendezvous = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
  ucp_mem_h memh = nullptr;
  if (std::byte* at = placeOf(length, header.tag, memh)) {
    if (rendezvous) {
      held_[slot] = {data, true};
      fetch(seq, at, memh);  // the fetch starts inside the handler: UCS_OK keeps it going
    } else {
      recvData_[slot] = at;
      std::memcpy(at, data, length);
      arrived(seq);
    }
    return UCS_OK;
  }
  // Not yet known where it belongs: UCX keeps the bytes (a rendezvous descriptor, or eager
  // data it lets us hold) until a hint or a peek says.
  if (rendezvous || (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) != 0) {
    held_[slot] = {data, rendezvous};
    return UCS_INPROGRESS;
  }
  recvData_[slot] = recvSlot(seq);
  std::memcpy(recvSlot(seq), data, length);
  arrived(seq);
  return UCS_OK;
}

void Link::onReceived(void* request, ucs_status_t status, size_t, void* user) {
  const Arrival* arrival = static_cast<const Arrival*>(user);
  if (status == UCS_OK) {
    arrival->link->arrived(arrival->seq);
  } else {
    arrival->link->fail(std::string("receive failed: ") + ucx::api().status_string(status));
  }
  ucx::api().request_free(request);
}

void Link::arrived(uint64_t seq) {
  arrived_[seq % slots_].store(seq + 1, std::memory_order_release);
  ++set_.events;
}

void Link::credit(uint64_t released) {
  if (released > credited_.load(std::memory_order_relaxed)) {
    credited_.store(released, std::memory_order_release);
  }
  ++set_.events;
}

void Link::fail(const std::string& why) {
  if (failed()) return;
  failure_ = why;
  failureNumber_ = set_.failures.fetch_add(1, std::memory_order_relaxed);
  failed_.store(true, std::memory_order_release);
  set_.failed.store(true, std::memory_order_release);
  ++set_.events;
}

}  // namespace prism::ucx
