// Connection setup: listen, connect and accept, none of which blocks. connect() starts a
// non-blocking TCP connect and reports a comm once the socket is writable; accept() reports
// one once the kernel has a connection queued.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <new>

#include "tests/plugins/net/net_plugin.h"

namespace prismtest {
namespace {

constexpr uint64_t kHandleMagic = 0x50524953'4d4e4554;  // "PRISMNET"

/// What listen() writes into the host's NCCL_NET_HANDLE_MAXSIZE bytes. `pendingFd` is
/// only ever set in the connecting side's copy: the socket of a connect still in progress,
/// plus one (zero, as listen() writes it, means none started).
struct Handle {
  uint64_t magic;
  sockaddr_in address;
  int pendingFd;
};
static_assert(sizeof(Handle) <= NCCL_NET_HANDLE_MAXSIZE);

struct ListenComm {
  int fd;
};

/// The host's handle buffer carries no alignment promise: it is copied in and out.
Handle readHandle(const void* bytes) {
  Handle handle;
  memcpy(&handle, bytes, sizeof(handle));
  return handle;
}

void writeHandle(void* bytes, const Handle& handle) { memcpy(bytes, &handle, sizeof(handle)); }

ncclResult_t socketFailure(const char* what, int fd) {
  int err = errno;
  PRISMTEST_WARN("prismtest: %s failed: %s", what, strerror(err));
  if (fd >= 0) close(fd);
  return ncclSystemError;
}

/// Whether a connect started on `fd` has finished: 1 done, 0 not yet, -1 failed (errno set).
int connectFinished(int fd) {
  pollfd entry{fd, POLLOUT, 0};
  int ready = poll(&entry, 1, 0);
  if (ready <= 0) return ready < 0 && errno != EINTR ? -1 : 0;
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -1;
  if (err != 0) {
    errno = err;
    return -1;
  }
  return 1;
}

}  // namespace

ncclResult_t listen(void* handleBytes, void** listenComm) {
  *listenComm = nullptr;
  Handle handle{};
  handle.magic = kHandleMagic;
  handle.address = currentConfig().address;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return socketFailure("socket", -1);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&handle.address), sizeof(handle.address)) != 0) {
    return socketFailure("bind", fd);
  }
  if (::listen(fd, SOMAXCONN) != 0) return socketFailure("listen", fd);
  socklen_t len = sizeof(handle.address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&handle.address), &len) != 0) {
    return socketFailure("getsockname", fd);
  }
  auto* comm = new (std::nothrow) ListenComm{fd};
  if (comm == nullptr) {
    close(fd);
    return ncclSystemError;
  }
  memset(handleBytes, 0, NCCL_NET_HANDLE_MAXSIZE);
  writeHandle(handleBytes, handle);
  *listenComm = comm;
  return ncclSuccess;
}

ncclResult_t connect(void* handleBytes, void** sendComm) {
  *sendComm = nullptr;
  Handle handle = readHandle(handleBytes);
  if (handle.magic != kHandleMagic) {
    PRISMTEST_WARN("prismtest: connect handle is not from a prismtest listen()");
    return ncclInvalidArgument;
  }
  int fd = handle.pendingFd - 1;
  if (fd < 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return socketFailure("socket", -1);
    int rc =
        ::connect(fd, reinterpret_cast<const sockaddr*>(&handle.address), sizeof(handle.address));
    if (rc != 0 && errno != EINPROGRESS) return socketFailure("connect", fd);
    handle.pendingFd = fd + 1;
    writeHandle(handleBytes, handle);
  }
  int finished = connectFinished(fd);
  if (finished == 0) return ncclSuccess;  // the host calls again
  handle.pendingFd = 0;
  writeHandle(handleBytes, handle);
  if (finished < 0) return socketFailure("connect", fd);
  return makeComm(fd, /*sending=*/true, sendComm);
}

ncclResult_t accept(void* listenComm, void** recvComm) {
  *recvComm = nullptr;
  auto* listener = static_cast<ListenComm*>(listenComm);
  int fd = accept4(listener->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    bool later = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED;
    return later ? ncclSuccess : socketFailure("accept", -1);
  }
  return makeComm(fd, /*sending=*/false, recvComm);
}

ncclResult_t closeListen(void* listenComm) {
  auto* listener = static_cast<ListenComm*>(listenComm);
  if (listener == nullptr) return ncclSuccess;
  close(listener->fd);
  delete listener;
  return ncclSuccess;
}

}  // namespace prismtest
