// Message transfer on one connected socket. A comm keeps up to NCCL_NET_MAX_REQUESTS
// requests; they move bytes strictly in posting order, and only ever with non-blocking
// socket calls, so one thread can drive any number of comms in both directions.
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <new>

#include "tests/plugins/net/net_plugin.h"

namespace prismtest {
namespace {

constexpr uint32_t kMessageMagic = 0x4d545250;  // "PRTM"
constexpr uint64_t kMrMagic = 0x4d52'5052'5453'5445;

/// Precedes every message's payload on the wire.
struct WireHeader {
  uint32_t magic;
  int32_t tag;
  uint64_t size;
};

class Comm;

struct Request {
  Comm* comm = nullptr;
  bool inUse = false;
  bool complete = false;
  uint64_t seq = 0;  ///< posting order on its comm
  char* data = nullptr;
  size_t capacity = 0;  ///< a send's size, a receive's posted size
  size_t size = 0;      ///< a send's size, a receive's size once its header is in
  WireHeader header{};
  size_t headerDone = 0;
  size_t payloadDone = 0;
};

struct MemoryRegion {
  uint64_t magic;
  void* data;
  size_t size;
};

class Comm {
 public:
  Comm(int fd, bool sending) : fd_(fd), sending_(sending) {}
  ~Comm() { close(fd_); }
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  bool sending() const { return sending_; }

  /// Queues a transfer; `*request` stays null when all slots are taken ("try later").
  ncclResult_t post(void* data, size_t size, int tag, void** request) {
    *request = nullptr;
    if (failure_ != ncclSuccess) return failure_;
    for (Request& slot : slots_) {
      if (slot.inUse) continue;
      slot = Request{};
      slot.comm = this;
      slot.inUse = true;
      slot.seq = nextSeq_++;
      slot.data = static_cast<char*>(data);
      slot.capacity = size;
      slot.size = size;
      slot.header = WireHeader{kMessageMagic, tag, size};
      *request = &slot;
      progress();  // opportunistic: a failure sticks and test() reports it
      return ncclSuccess;
    }
    return ncclSuccess;
  }

  ncclResult_t test(Request* request, int* done, size_t* size) {
    *done = 0;
    ncclResult_t result = progress();
    if (result != ncclSuccess) return result;
    if (!request->complete) return ncclSuccess;
    *done = 1;
    if (size != nullptr) *size = request->size;
    request->inUse = false;
    return ncclSuccess;
  }

  /// Moves bytes for the oldest unfinished request, then the next, until the socket
  /// would block. A failure sticks: every later call on the comm reports it.
  ncclResult_t progress() {
    while (failure_ == ncclSuccess) {
      Request* head = find(headSeq_);
      if (head == nullptr) break;
      bool blocked = false;
      failure_ = sending_ ? sendSome(*head, &blocked) : receiveSome(*head, &blocked);
      if (failure_ != ncclSuccess || blocked) break;
      head->complete = true;
      ++headSeq_;
    }
    return failure_;
  }

 private:
  Request* find(uint64_t seq) {
    if (seq == nextSeq_) return nullptr;
    for (Request& slot : slots_) {
      if (slot.inUse && slot.seq == seq) return &slot;
    }
    return nullptr;
  }

  ncclResult_t sendSome(Request& req, bool* blocked) {
    while (req.headerDone < sizeof(WireHeader) || req.payloadDone < req.size) {
      iovec parts[2];
      int count = 0;
      if (req.headerDone < sizeof(WireHeader)) {
        parts[count++] = {reinterpret_cast<char*>(&req.header) + req.headerDone,
                          sizeof(WireHeader) - req.headerDone};
      }
      parts[count++] = {req.data + req.payloadDone, req.size - req.payloadDone};
      msghdr message{};
      message.msg_iov = parts;
      message.msg_iovlen = count;
      ssize_t sent = sendmsg(fd_, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          *blocked = true;
          return ncclSuccess;
        }
        return socketError("send");
      }
      size_t toHeader = std::min(static_cast<size_t>(sent), sizeof(WireHeader) - req.headerDone);
      req.headerDone += toHeader;
      req.payloadDone += static_cast<size_t>(sent) - toHeader;
    }
    return ncclSuccess;
  }

  ncclResult_t receiveSome(Request& req, bool* blocked) {
    while (req.headerDone < sizeof(WireHeader)) {
      char* at = reinterpret_cast<char*>(&req.header) + req.headerDone;
      ncclResult_t result =
          readSome(at, sizeof(WireHeader) - req.headerDone, &req.headerDone, blocked);
      if (result != ncclSuccess || *blocked) return result;
      if (req.headerDone < sizeof(WireHeader)) continue;
      if (req.header.magic != kMessageMagic) {
        PRISMTEST_WARN("prismtest: message header is corrupt; the stream is out of step");
        return ncclRemoteError;
      }
      if (req.header.size > req.capacity) {
        PRISMTEST_WARN("prismtest: received a %llu-byte message for a %zu-byte buffer",
                       static_cast<unsigned long long>(req.header.size), req.capacity);
        return ncclInternalError;
      }
      req.size = req.header.size;
    }
    while (req.payloadDone < req.size) {
      ncclResult_t result = readSome(req.data + req.payloadDone, req.size - req.payloadDone,
                                     &req.payloadDone, blocked);
      if (result != ncclSuccess || *blocked) return result;
    }
    return ncclSuccess;
  }

  ncclResult_t readSome(char* into, size_t want, size_t* done, bool* blocked) {
    ssize_t got = recv(fd_, into, want, MSG_DONTWAIT);
    if (got > 0) {
      *done += static_cast<size_t>(got);
      return ncclSuccess;
    }
    if (got == 0) {
      PRISMTEST_WARN("prismtest: connection closed by the peer with a receive pending");
      return ncclRemoteError;
    }
    if (errno == EINTR) return ncclSuccess;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *blocked = true;
      return ncclSuccess;
    }
    return socketError("recv");
  }

  ncclResult_t socketError(const char* what) {
    int err = errno;
    PRISMTEST_WARN("prismtest: %s failed: %s", what, strerror(err));
    bool peer = err == ECONNRESET || err == EPIPE || err == ETIMEDOUT;
    return peer ? ncclRemoteError : ncclSystemError;
  }

  int fd_;
  bool sending_;
  ncclResult_t failure_ = ncclSuccess;
  std::array<Request, NCCL_NET_MAX_REQUESTS> slots_{};
  uint64_t nextSeq_ = 0;  ///< seq of the next request posted
  uint64_t headSeq_ = 0;  ///< seq of the oldest request not yet complete
};

}  // namespace

ncclResult_t makeComm(int fd, bool sending, void** comm) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  *comm = new (std::nothrow) Comm(fd, sending);
  if (*comm != nullptr) return ncclSuccess;
  close(fd);
  return ncclSystemError;
}

ncclResult_t isend(void* sendComm, void* data, size_t size, int tag, void** request) {
  auto* comm = static_cast<Comm*>(sendComm);
  if (comm == nullptr || !comm->sending()) return ncclInvalidArgument;
  return comm->post(data, size, tag, request);
}

ncclResult_t irecv(void* recvComm, int n, void** data, const size_t* sizes, void** request) {
  auto* comm = static_cast<Comm*>(recvComm);
  if (comm == nullptr || comm->sending()) return ncclInvalidArgument;
  if (n != 1) {
    PRISMTEST_WARN("prismtest: irecv of %d buffers; maxRecvs is 1", n);
    return ncclInternalError;
  }
  return comm->post(data[0], sizes[0], /*tag=*/0, request);
}

ncclResult_t test(void* request, int* done, size_t* size) {
  auto* req = static_cast<Request*>(request);
  if (req == nullptr || !req->inUse) return ncclInvalidArgument;
  return req->comm->test(req, done, size);
}

ncclResult_t closeComm(void* comm) {
  delete static_cast<Comm*>(comm);
  return ncclSuccess;
}

ncclResult_t regMr(void* comm, void* data, size_t size, int type, void** mhandle) {
  *mhandle = nullptr;
  if (type != NCCL_PTR_HOST) {
    PRISMTEST_WARN("prismtest: regMr of memory type %d; only host memory is supported", type);
    return ncclInternalError;
  }
  *mhandle = new (std::nothrow) MemoryRegion{kMrMagic, data, size};
  return *mhandle != nullptr ? ncclSuccess : ncclSystemError;
}

ncclResult_t deregMr(void* comm, void* mhandle) {
  auto* region = static_cast<MemoryRegion*>(mhandle);
  if (region == nullptr || region->magic != kMrMagic) return ncclInvalidArgument;
  delete region;
  return ncclSuccess;
}

}  // namespace prismtest
