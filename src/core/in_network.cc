#include "src/core/in_network.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "algorithms/in_network_model.h"
#include "base/error.h"
#include "base/log.h"
#include "kernels/host/reduce.h"
#include "transports/in_network/in_network_protocol.h"

namespace prism {

namespace {

using innet::Frame;
using innet::FrameType;
using net::Clock;

constexpr auto kLargestChunk = static_cast<uint32_t>(kInNetworkChunkBytes);
constexpr uint32_t kSmallestChunk = 16 * 1024;
constexpr uint32_t kMostInFlight = 8;
/// What one job may make the service hold (window x nranks x chunk).
constexpr size_t kPoolBudget = size_t{64} << 20;
/// A service that is still starting refuses connections; retry that this long.
constexpr auto kRefusedRetry = std::chrono::seconds(3);

/// Longest single poll, so that an abort is noticed promptly.
constexpr int kWaitSliceMillis = 100;

bool wouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

}  // namespace

InNetwork::InNetwork(InNetworkOptions options) : options_(std::move(options)) {
  const size_t n = static_cast<size_t>(std::max(options_.nranks, 1));
  chunkBytes_ = kLargestChunk;
  while (chunkBytes_ > kSmallestChunk && 2 * n * chunkBytes_ > kPoolBudget) chunkBytes_ /= 2;
  window_ =
      static_cast<uint32_t>(std::clamp<size_t>(kPoolBudget / (n * chunkBytes_), 2, kMostInFlight));
}

InNetwork::~InNetwork() {
  if (!socket_ || !broken_.empty()) return;
  Frame bye;
  bye.type = FrameType::Bye;
  socket_.sendAll(&bye, sizeof(bye), Clock::now() + std::chrono::seconds(1));
}

bool InNetwork::eligible(const Operation& op) const {
  if (options_.address.empty() || op.kind != OperationKind::Collective || op.onDevice ||
      op.members != nullptr || op.collective != Collective::AllReduce) {
    return false;
  }
  if (options_.forced) return true;
  return options_.nranks >= 2 && options_.prefer &&
         options_.prefer(op.count * dataTypeSize(op.type));
}

bool InNetwork::available(const Operation& op) const {
  return !options_.address.empty() && op.kind == OperationKind::Collective && !op.onDevice &&
         op.members == nullptr && op.collective == Collective::AllReduce && options_.nranks >= 2;
}

void InNetwork::fail(ncclResult_t code, const std::string& reason) {
  broken_ = reason;
  socket_ = net::Socket();
  throw Error(code, reason);
}

void InNetwork::remoteError(uint32_t bytes) {
  std::string text(std::min(bytes, innet::kMaxErrorBytes), '\0');
  socket_.recvAll(text.data(), text.size(), Clock::now() + std::chrono::seconds(1));
  fail(ncclRemoteError, "in-network service at " + options_.address + ": " + text);
}

void InNetwork::connect() {
  if (!broken_.empty()) {
    throw Error(ncclRemoteError,
                "in-network connection unusable after an earlier error: " + broken_);
  }
  if (socket_) return;
  const net::SocketAddress address = innet::parseAddress(options_.address);
  const auto deadline = Clock::now() + std::chrono::seconds(options_.timeoutSeconds);
  const auto retryUntil = std::min(deadline, Clock::now() + kRefusedRetry);
  net::IoStatus status;
  while (true) {
    status = net::Socket::connect(address, deadline, &socket_);
    if (status.ok() || status.kind != net::IoStatus::Kind::Error || status.error != ECONNREFUSED ||
        Clock::now() >= retryUntil) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!status.ok()) {
    fail(ncclSystemError, "cannot reach the in-network service at " + options_.address + " (" +
                              address.toString() + "): " + status.describe());
  }
  innet::HelloInfo info{options_.rank, options_.nranks, chunkBytes_, window_};
  Frame hello = innet::makeHello(info, options_.token.size());
  status = socket_.sendAll(&hello, sizeof(hello), deadline);
  if (status.ok()) status = socket_.sendAll(options_.token.data(), options_.token.size(), deadline);
  Frame reply;
  if (status.ok()) status = socket_.recvAll(&reply, sizeof(reply), deadline);
  if (!status.ok()) {
    fail(ncclRemoteError, "joining the job at the in-network service " + options_.address +
                              " failed: " + status.describe());
  }
  if (reply.magic == innet::kMagic && reply.type == FrameType::Error) remoteError(reply.bytes);
  if (reply.magic != innet::kMagic || reply.type != FrameType::Welcome) {
    fail(ncclRemoteError, options_.address + " is not a prism-innet service");
  }
  staging_.resize(chunkBytes_);
  log::info(log::kInit, "rank %d/%d: in-network service %s, chunks of %u bytes, %u in flight",
            options_.rank, options_.nranks, options_.address.c_str(), chunkBytes_, window_);
}

/// Where one call stands: its chunks, and how far the frame going up and the frame
/// coming down have got.
struct InNetwork::Call {
  explicit Call(const Operation& o) : op(o) {}

  const Operation& op;
  size_t elem = 0;
  size_t chunkElems = 0;
  size_t chunks = 0;
  uint64_t firstTicket = 0;
  uint64_t sequence = 0;
  const void* scalar = nullptr;  ///< PreMulSum's scalar
  size_t sent = 0;               ///< chunks fully sent
  size_t sentBytes = 0;          ///< of the frame being sent (header + payload)
  size_t received = 0;           ///< results fully received
  size_t receivedBytes = 0;      ///< of the result being received (header + payload)
  Frame up;
  Frame down;

  size_t length(size_t chunk) const {
    return std::min(chunkElems, op.count - chunk * chunkElems) * elem;
  }
  size_t offset(size_t chunk) const { return chunk * chunkElems * elem; }
  bool maySend(uint32_t window) const { return sent < chunks && sent - received < window; }
};

void InNetwork::run(const Operation& op) {
  if (op.count == 0) return;  // every rank agrees: nothing to exchange
  connect();
  Call call(op);
  call.elem = dataTypeSize(op.type);
  call.chunkElems = chunkBytes_ / call.elem;
  call.chunks = (op.count + call.chunkElems - 1) / call.chunkElems;
  call.firstTicket = ticket_;
  call.sequence = sequence_++;
  call.scalar = op.reduction.scalarSource ? op.reduction.scalarSource : op.reduction.scalar.data();
  const auto timeout = std::chrono::seconds(options_.timeoutSeconds);
  auto deadline = Clock::now() + timeout;
  while (call.received < call.chunks) {
    const bool pushed = pushChunks(call);
    const bool pulled = pullResults(call);
    if (pushed || pulled) {
      deadline = Clock::now() + timeout;
      continue;
    }
    if (Clock::now() >= deadline) {
      fail(ncclRemoteError, "no progress from the in-network service at " + options_.address +
                                " for " + std::to_string(options_.timeoutSeconds) + " s (rank " +
                                std::to_string(options_.rank) + ", chunk " +
                                std::to_string(call.received) + " of " +
                                std::to_string(call.chunks) + ")");
    }
    if (options_.whileWaiting) {
      try {
        options_.whileWaiting();
      } catch (const Error& e) {
        // A call stopped midway leaves the stream mid-frame: the connection is unusable.
        broken_ = e.what();
        socket_ = net::Socket();
        throw;
      }
    }
    pollfd p{socket_.fd(), POLLIN, 0};
    if (call.maySend(window_)) p.events |= POLLOUT;
    ::poll(&p, 1, std::min(net::millisUntil(deadline), kWaitSliceMillis));
  }
  ticket_ += call.chunks;
}

bool InNetwork::pushChunks(Call& call) {
  // At most window_ chunks between sent and received: what the service's slot pool holds.
  const Reduction& r = call.op.reduction;
  const auto* in = static_cast<const std::byte*>(call.op.sendbuff);
  bool moved = false;
  while (call.maySend(window_)) {
    const size_t length = call.length(call.sent);
    const std::byte* data = r.preMultiply ? staging_.data() : in + call.offset(call.sent);
    if (call.sentBytes == 0) {
      Frame& up = call.up;
      up = Frame{};
      up.type = FrameType::Chunk;
      up.dtype = static_cast<uint8_t>(call.op.type);
      up.op = static_cast<uint8_t>(r.op);
      up.chunk = static_cast<uint32_t>(call.sent);
      up.bytes = static_cast<uint32_t>(length);
      up.sequence = call.sequence;
      up.ticket = call.firstTicket + call.sent;
      // PreMulSum scales here, once per contribution, as the executor does.
      if (r.preMultiply) {
        kernels::scale(call.op.type, staging_.data(), in + call.offset(call.sent), call.scalar,
                       length / call.elem);
      }
    }
    iovec iov[2];
    int parts = 0;
    if (call.sentBytes < sizeof(Frame)) {
      iov[parts++] = {reinterpret_cast<char*>(&call.up) + call.sentBytes,
                      sizeof(Frame) - call.sentBytes};
      iov[parts++] = {const_cast<std::byte*>(data), length};
    } else {
      const size_t done = call.sentBytes - sizeof(Frame);
      iov[parts++] = {const_cast<std::byte*>(data) + done, length - done};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(parts);
    ssize_t n = ::sendmsg(socket_.fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (wouldBlock()) break;
      fail(ncclRemoteError, "sending to the in-network service at " + options_.address +
                                " failed: " + std::strerror(errno));
    }
    moved = true;
    call.sentBytes += static_cast<size_t>(n);
    if (call.sentBytes == sizeof(Frame) + length) {
      ++call.sent;
      call.sentBytes = 0;
    }
  }
  return moved;
}

bool InNetwork::pullResults(Call& call) {
  // Results come in ticket order, straight into the output buffer.
  auto* out = static_cast<std::byte*>(call.op.recvbuff);
  bool moved = false;
  while (call.received < call.sent) {
    const size_t length = call.length(call.received);
    std::byte* dst = out + call.offset(call.received);
    const size_t got = call.receivedBytes;
    ssize_t n = got < sizeof(Frame)
                    ? ::recv(socket_.fd(), reinterpret_cast<char*>(&call.down) + got,
                             sizeof(Frame) - got, MSG_DONTWAIT)
                    : ::recv(socket_.fd(), dst + (got - sizeof(Frame)),
                             length - (got - sizeof(Frame)), MSG_DONTWAIT);
    if (n == 0) {
      fail(ncclRemoteError,
           "the in-network service at " + options_.address + " closed the connection");
    }
    if (n < 0) {
      if (wouldBlock()) break;
      fail(ncclRemoteError, "receiving from the in-network service at " + options_.address +
                                " failed: " + std::strerror(errno));
    }
    moved = true;
    call.receivedBytes += static_cast<size_t>(n);
    if (call.receivedBytes == sizeof(Frame)) checkResultHeader(call, length);
    if (call.receivedBytes == sizeof(Frame) + length) {
      if (call.op.reduction.average) {
        kernels::divide(call.op.type, dst, dst, options_.nranks, length / call.elem);
      }
      ++call.received;
      call.receivedBytes = 0;
    }
  }
  return moved;
}

void InNetwork::checkResultHeader(const Call& call, size_t length) {
  const Frame& down = call.down;
  if (down.magic == innet::kMagic && down.type == FrameType::Error) remoteError(down.bytes);
  if (down.magic != innet::kMagic || down.type != FrameType::Result ||
      down.ticket != call.firstTicket + call.received || down.bytes != length) {
    fail(ncclRemoteError, "protocol error from the in-network service at " + options_.address +
                              " (unexpected frame)");
  }
}

}  // namespace prism
