#include "base/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "base/error.h"

namespace prism::net {

namespace {

// Waits for `events` on fd. False on timeout; errno-style failures surface in the next
// send/recv, which reports them precisely.
bool waitFor(int fd, short events, Deadline deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, millisUntil(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return Clock::now() < deadline;  // let the caller retry, bounded
  }
}

void setNoDelay(int fd) {
  // Bootstrap messages are small request/reply frames; Nagle would add 40 ms stalls.
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

int millisUntil(Deadline deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

std::string SocketAddress::toString() const {
  char text[INET6_ADDRSTRLEN] = "?";
  if (family == Family::IPv4) {
    ::inet_ntop(AF_INET, ip.data(), text, sizeof(text));
    return std::string(text) + ":" + std::to_string(port);
  }
  ::inet_ntop(AF_INET6, ip.data(), text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(port);
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* sa) {
  SocketAddress a;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(a.ip.data(), &in->sin_addr, 4);
    a.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    a.family = Family::IPv6;
    std::memcpy(a.ip.data(), &in6->sin6_addr, 16);
    a.port = ntohs(in6->sin6_port);
  } else {
    throw Error(ncclInternalError, "unsupported address family " + std::to_string(sa->sa_family));
  }
  return a;
}

socklen_t SocketAddress::toSockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (family == Family::IPv4) {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, ip.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  std::memcpy(&in6->sin6_addr, ip.data(), 16);
  return sizeof(sockaddr_in6);
}

std::string IoStatus::describe() const {
  switch (kind) {
    case Kind::Ok:
      return "ok";
    case Kind::Timeout:
      return "timed out";
    case Kind::Closed:
      return "connection closed by peer";
    case Kind::Error:
      return std::strerror(error);
  }
  return "unknown";
}

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Socket Socket::listen(const SocketAddress& address) {
  sockaddr_storage sa;
  socklen_t len = address.toSockaddr(&sa);
  Socket s(::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) throwSystemError("bootstrap: socket()");
  if (::bind(s.fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    throwSystemError("bootstrap: bind to " + address.toString());
  }
  if (::listen(s.fd_, SOMAXCONN) != 0) throwSystemError("bootstrap: listen");
  return s;
}

IoStatus Socket::connect(const SocketAddress& address, Deadline deadline, Socket* out) {
  *out = Socket();
  sockaddr_storage sa;
  socklen_t len = address.toSockaddr(&sa);
  Socket s(::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return {IoStatus::Kind::Error, errno};
  if (::connect(s.fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return {IoStatus::Kind::Error, errno};
    if (!waitFor(s.fd_, POLLOUT, deadline)) return {IoStatus::Kind::Timeout, 0};
    int err = 0;
    socklen_t errLen = sizeof(err);
    if (::getsockopt(s.fd_, SOL_SOCKET, SO_ERROR, &err, &errLen) != 0) err = errno;
    if (err != 0) return {IoStatus::Kind::Error, err};
  }
  setNoDelay(s.fd_);
  *out = std::move(s);
  return {};
}

Socket Socket::accept(SocketAddress* peer) {
  sockaddr_storage sa;
  socklen_t len = sizeof(sa);
  int fd;
  do {
    fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    // ECONNABORTED and friends concern only that one connection; the listener is fine.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED || errno == EPROTO) {
      return Socket();
    }
    throwSystemError("bootstrap: accept");
  }
  Socket s(fd);
  setNoDelay(fd);
  *peer = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&sa));
  return s;
}

SocketAddress Socket::localAddress() const {
  sockaddr_storage sa;
  socklen_t len = sizeof(sa);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    throwSystemError("bootstrap: getsockname");
  }
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&sa));
}

IoStatus Socket::sendAll(const void* data, size_t bytes, Deadline deadline) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (bytes > 0) {
    ssize_t n = ::send(fd_, p, bytes, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      if (errno == EPIPE || errno == ECONNRESET) return {IoStatus::Kind::Closed, errno};
      return {IoStatus::Kind::Error, errno};
    }
    if (!waitFor(fd_, POLLOUT, deadline)) return {IoStatus::Kind::Timeout, 0};
  }
  return {};
}

IoStatus Socket::recvAll(void* data, size_t bytes, Deadline deadline) {
  auto* p = static_cast<uint8_t*>(data);
  while (bytes > 0) {
    ssize_t n = ::recv(fd_, p, bytes, 0);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return {IoStatus::Kind::Closed, 0};
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return {IoStatus::Kind::Closed, errno};
    if (errno != EAGAIN && errno != EWOULDBLOCK) return {IoStatus::Kind::Error, errno};
    if (!waitFor(fd_, POLLIN, deadline)) return {IoStatus::Kind::Timeout, 0};
  }
  return {};
}

size_t Socket::sendSome(const void* data, size_t bytes) {
  while (true) {
    ssize_t n = ::send(fd_, data, bytes, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    throwSystemError("bootstrap: send");
  }
}

size_t Socket::recvSome(void* data, size_t bytes, bool* closed) {
  *closed = false;
  while (true) {
    ssize_t n = ::recv(fd_, data, bytes, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) {
      *closed = bytes > 0;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno == ECONNRESET) {
      *closed = true;
      return 0;
    }
    throwSystemError("bootstrap: recv");
  }
}

}  // namespace prism::net
