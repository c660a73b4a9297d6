#include "transports/tcp/tcp_link.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "transports/common/link_failures.h"
#include "transports/tcp/tcp_engine.h"

namespace prism::tcp {

Stripe stripeOf(uint64_t seq, size_t bytes, int index, int count) {
  if (count <= 1 || bytes < kMinStripeBytes) {
    bool owner = static_cast<int>(seq % static_cast<uint64_t>(count)) == index;
    return {owner, 0, owner ? bytes : 0};
  }
  // Equal cache-line multiples; the last socket takes the remainder (possibly nothing).
  size_t share =
      ((bytes + static_cast<size_t>(count) - 1) / static_cast<size_t>(count) + 63) & ~size_t{63};
  size_t offset = std::min(bytes, share * static_cast<size_t>(index));
  size_t end = std::min(bytes, offset + share);
  return {end > offset, offset, end - offset};
}

Link::Link(int rank, int peer, size_t slotBytes, int slotCount, std::vector<net::Socket> sockets,
           const LinkSet* set, bool placement)
    : rank_(rank),
      peer_(peer),
      slotBytes_(slotBytes),
      slots_(static_cast<uint64_t>(slotCount)),
      sockets_(std::move(sockets)),
      // Allocated and touched once here (value-initialized), never per message.
      sendSlots_(slotBytes * slots_),
      sendBytes_(slots_, 0),
      sendTags_(slots_, 0),
      sendCursors_(sockets_.size()),
      recvSlots_(slotBytes * slots_),
      recvData_(slots_, nullptr),
      recvBytes_(slots_, 0),
      recvTags_(slots_, 0),
      recvCursors_(sockets_.size()),
      expected_(slots_, -1),
      expectedTags_(slots_, 0),
      got_(slots_, 0),
      placedAt_(slots_, nullptr),
      set_(set),
      placementEnabled_(placement) {}

void LinkSet::throwFailure(int rank) const {
  std::vector<LinkFailure> failures;
  for (const auto& link : byPeer) {
    if (link && link->failed()) {
      failures.push_back({link->peer(), link->failureNumber(), link->failure()});
    }
  }
  throwLinkFailures(rank, std::move(failures), "connection");
}

void Link::throwIfFailed() const {
  if (set_->failed.load(std::memory_order_acquire)) [[unlikely]]
    set_->throwFailure(rank_);
}

std::span<std::byte> Link::acquire() {
  // Only this link's own failure stops a send: a rank that gives up after another peer
  // died must still reach the healthy peers with its notice (mismatch.h). Receives report
  // the whole set's failures (peek).
  if (failed()) [[unlikely]]
    set_->throwFailure(rank_);
  uint64_t c = committed_.load(std::memory_order_relaxed);
  if (c - sentSeen_ >= slots_) {
    sentSeen_ = sent_.load(std::memory_order_acquire);
    if (c - sentSeen_ >= slots_) return {};
  }
  return {sendSlot(c), slotBytes_};
}

void Link::commit(size_t bytes, uint64_t tag) {
  if (bytes > slotBytes_) [[unlikely]] {
    throw Error(ncclInternalError, "tcp transport: message larger than a slot");
  }
  uint64_t c = committed_.load(std::memory_order_relaxed);
  sendBytes_[c % slots_] = static_cast<uint32_t>(bytes);
  sendTags_[c % slots_] = tag;
  committed_.store(c + 1, std::memory_order_release);
  if (engine_->rankDrives()) {
    // The waiting thread drives the link: the bytes go to the kernel now, not on the next
    // poll (the I/O thread would have been woken for them).
    bool wake = false;
    pump(wake);
  } else {
    engine_->wake();
  }
}

std::span<const std::byte> Link::peek() {
  uint64_t r = released_.load(std::memory_order_relaxed);
  if (r == arrivedSeen_) {
    arrivedSeen_ = arrived_.load(std::memory_order_acquire);
    if (r == arrivedSeen_) {
      throwIfFailed();  // messages that arrived before a failure are still delivered
      return {};
    }
  }
  return {recvData_[r % slots_], recvBytes_[r % slots_]};
}

void Link::receiveInto(std::byte* dst, size_t bytes, uint64_t tag) {
  if (!placementEnabled_ || sockets_.size() != 1 || !engine_->rankDrives()) return;
  // The hint's messages that already arrived, or are being read, stay in their slots: the
  // new ones go after them.
  size_t before = 0;
  for (uint64_t s = released_.load(std::memory_order_relaxed); s < arrivedLocal_; ++s) {
    if (recvTags_[s % slots_] == tag) before += recvBytes_[s % slots_];
  }
  const RecvCursor& cursor = recvCursors_[0];
  // A message being read whose place is decided went to its slot (the last hint is spent);
  // one still undecided takes the new hint, as its first message.
  if (cursor.inBody && cursor.placed && cursor.header.tag == tag) before += cursor.header.bytes;
  if (before >= bytes) {
    placement_ = {};
    return;
  }
  placement_ = {dst, bytes, before, tag};
}

void Link::forgetPlacement() {
  placement_ = {};
  const RecvCursor& cursor = recvCursors_[0];
  if (cursor.inBody && cursor.placed) placedAt_[cursor.seq % slots_] = nullptr;
}

uint64_t Link::tag() const { return recvTags_[released_.load(std::memory_order_relaxed) % slots_]; }

void Link::release() {
  released_.store(released_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  // A rank that drives the link reads into the freed slot on its next poll.
  if (!engine_->rankDrives()) engine_->wake();
}

void Link::fail(const std::string& why) {
  if (failed_.load(std::memory_order_relaxed)) return;
  failure_ = why;
  failureNumber_ = set_->failures.fetch_add(1);
  failed_.store(true, std::memory_order_release);
}

bool Link::pumpSend(int index) {
  SendCursor& cursor = sendCursors_[static_cast<size_t>(index)];
  const int count = static_cast<int>(sockets_.size());
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  bool moved = false;
  while (cursor.seq < committed) {
    const uint32_t bytes = sendBytes_[cursor.seq % slots_];
    const Stripe stripe = stripeOf(cursor.seq, bytes, index, count);
    if (!stripe.carries) {
      ++cursor.seq;
      moved = true;
      continue;
    }
    FrameHeader header{static_cast<uint32_t>(cursor.seq), bytes, sendTags_[cursor.seq % slots_]};
    const size_t total = sizeof(header) + stripe.bytes;
    iovec parts[2];
    int n = 0;
    if (cursor.done < sizeof(header)) {
      parts[n++] = {reinterpret_cast<char*>(&header) + cursor.done, sizeof(header) - cursor.done};
    }
    size_t bodyDone = cursor.done > sizeof(header) ? cursor.done - sizeof(header) : 0;
    if (stripe.bytes > bodyDone) {
      parts[n++] = {sendSlot(cursor.seq) + stripe.offset + bodyDone, stripe.bytes - bodyDone};
    }
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = static_cast<size_t>(n);
    ssize_t wrote =
        ::sendmsg(sockets_[static_cast<size_t>(index)].fd(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail(std::strerror(errno));
      return moved;
    }
    moved = true;
    cursor.done += static_cast<size_t>(wrote);
    if (cursor.done < total) return moved;  // the socket buffer is full
    cursor.done = 0;
    ++cursor.seq;
  }
  return moved;
}

bool Link::pumpRecv(int index) {
  RecvCursor& cursor = recvCursors_[static_cast<size_t>(index)];
  const int fd = sockets_[static_cast<size_t>(index)].fd();
  bool moved = false;
  while (!cursor.goodbye && !failed()) {
    std::byte* into;
    size_t want;
    if (!cursor.inBody) {
      into = reinterpret_cast<std::byte*>(&cursor.header) + cursor.headerGot;
      want = sizeof(FrameHeader) - cursor.headerGot;
    } else {
      // A message may land only in a slot the rank has released.
      if (cursor.seq >= releasedSeen_ + slots_) {
        releasedSeen_ = released_.load(std::memory_order_acquire);
        if (cursor.seq >= releasedSeen_ + slots_) return moved;
      }
      // Decided only now, with the slot free: its entry may still describe the message
      // `slots` earlier, unpublished until this pass ends.
      if (!cursor.placed) {
        place(cursor.seq, cursor.header);
        cursor.placed = true;
      }
      std::byte* placed = placedAt_[cursor.seq % slots_];
      into = (placed != nullptr ? placed : recvSlot(cursor.seq)) + cursor.stripe.offset +
             cursor.bodyGot;
      want = cursor.stripe.bytes - cursor.bodyGot;
    }
    if (want > 0) {
      ssize_t got = ::recv(fd, into, want, MSG_DONTWAIT);
      if (got == 0) {
        fail("peer closed the connection");
        return true;
      }
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          fail(std::strerror(errno));
          return true;
        }
        return moved;
      }
      moved = true;
      if (!cursor.inBody) {
        cursor.headerGot += static_cast<size_t>(got);
        if (cursor.headerGot < sizeof(FrameHeader)) continue;
        if (cursor.header.bytes == kGoodbye) {
          cursor.goodbye = true;
          return true;
        }
        if (cursor.header.bytes > slotBytes_) {
          fail("malformed frame (" + std::to_string(cursor.header.bytes) + " bytes)");
          return true;
        }
        // Sequence numbers travel as 32 bits; no socket is 2^32 messages ahead.
        cursor.seq = arrivedLocal_ + static_cast<uint32_t>(cursor.header.seq -
                                                           static_cast<uint32_t>(arrivedLocal_));
        cursor.stripe =
            stripeOf(cursor.seq, cursor.header.bytes, index, static_cast<int>(sockets_.size()));
        if (!cursor.stripe.carries) {
          fail("malformed frame (stripe not for this socket)");
          return true;
        }
        cursor.inBody = true;
        cursor.bodyGot = 0;
        cursor.placed = false;
        continue;
      }
      cursor.bodyGot += static_cast<size_t>(got);
      if (cursor.bodyGot < cursor.stripe.bytes) continue;
    } else if (cursor.inBody) {
      moved = true;  // an empty message: the header was all of it
    }
    if (cursor.inBody) {
      finishStripe(cursor.seq, cursor.header, cursor.stripe.bytes);
      cursor.inBody = false;
      cursor.headerGot = 0;
    }
  }
  return moved;
}

void Link::place(uint64_t seq, const FrameHeader& header) {
  std::byte*& at = placedAt_[seq % slots_];
  at = nullptr;
  Placement& p = placement_;
  if (p.placed >= p.bytes || header.tag != p.tag || header.bytes > p.bytes - p.placed) return;
  at = p.base + p.placed;
  p.placed += header.bytes;
}

void Link::finishStripe(uint64_t seq, const FrameHeader& header, size_t stripeBytes) {
  size_t slot = seq % slots_;
  expected_[slot] = header.bytes;
  expectedTags_[slot] = header.tag;
  got_[slot] += stripeBytes;
}

bool Link::pump(bool& wake) {
  if (failed()) return false;
  bool moved = false;
  const int count = static_cast<int>(sockets_.size());
  for (int i = 0; i < count; ++i) moved |= pumpSend(i);
  for (int i = 0; i < count && !failed(); ++i) moved |= pumpRecv(i);

  uint64_t sent = sendCursors_[0].seq;
  for (const SendCursor& c : sendCursors_) sent = std::min(sent, c.seq);
  if (sent != sentLocal_) {
    sentLocal_ = sent;
    sent_.store(sent, std::memory_order_release);
    wake = true;
  }
  uint64_t arrived = arrivedLocal_;
  while (true) {
    size_t slot = arrived % slots_;
    if (expected_[slot] < 0 || got_[slot] != static_cast<size_t>(expected_[slot])) break;
    recvData_[slot] = placedAt_[slot] != nullptr ? placedAt_[slot] : recvSlot(arrived);
    placedAt_[slot] = nullptr;
    recvBytes_[slot] = static_cast<uint32_t>(expected_[slot]);
    recvTags_[slot] = expectedTags_[slot];
    expected_[slot] = -1;
    got_[slot] = 0;
    ++arrived;
  }
  if (arrived != arrivedLocal_) {
    arrivedLocal_ = arrived;
    arrived_.store(arrived, std::memory_order_release);
    wake = true;
  }
  if (failed()) wake = true;
  return moved;
}

void Link::probeHangup() {
  for (size_t i = 0; i < sockets_.size() && !failed(); ++i) {
    pollfd p{sockets_[i].fd(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0 &&
        !recvCursors_[i].goodbye) {
      fail("peer closed the connection");
    }
  }
}

bool Link::drained() const {
  return failed() ||
         sent_.load(std::memory_order_acquire) == committed_.load(std::memory_order_relaxed);
}

void Link::sayGoodbye(net::Deadline deadline) {
  if (failed()) return;
  FrameHeader bye{0, kGoodbye, 0};
  for (net::Socket& s : sockets_) {
    (void)s.sendAll(&bye, sizeof(bye), deadline);
    ::shutdown(s.fd(), SHUT_WR);
  }
}

}  // namespace prism::tcp
