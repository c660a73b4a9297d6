// A small RAII TCP socket for bootstrap. Every socket is non-blocking; the blocking helpers
// wait with poll() against a deadline, so no bootstrap read or write can hang forever.
#pragma once

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace prism::net {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

/// An IPv4 or IPv6 address and a TCP port, independent of the sockaddr structures.
struct SocketAddress {
  enum class Family : uint8_t { IPv4 = 4, IPv6 = 6 };

  Family family = Family::IPv4;
  std::array<uint8_t, 16> ip{};  ///< network byte order; IPv4 uses the first 4 bytes
  uint16_t port = 0;             ///< host byte order

  /// "192.0.2.1:5000" or "[fd00::1]:5000".
  std::string toString() const;
  /// Converts an AF_INET or AF_INET6 sockaddr; throws ncclInternalError for other families.
  static SocketAddress fromSockaddr(const sockaddr* sa);
  socklen_t toSockaddr(sockaddr_storage* out) const;
};

/// How a blocking transfer ended. `error` is errno when kind is Error.
struct IoStatus {
  enum class Kind { Ok, Timeout, Closed, Error };
  Kind kind = Kind::Ok;
  int error = 0;

  bool ok() const { return kind == Kind::Ok; }
  /// "timed out", "connection closed by peer" or strerror's text.
  std::string describe() const;
};

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket();
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  /// A listening socket bound to `address` (port 0 picks a free port). Throws ncclSystemError.
  static Socket listen(const SocketAddress& address);
  /// Connects to `address`, waiting at most until `deadline`. On failure `*out` is empty.
  static IoStatus connect(const SocketAddress& address, Deadline deadline, Socket* out);

  /// Accepts one pending connection, or returns an empty Socket when none is pending.
  Socket accept(SocketAddress* peer);
  SocketAddress localAddress() const;

  /// Transfers exactly `bytes`, polling until `deadline`.
  IoStatus sendAll(const void* data, size_t bytes, Deadline deadline);
  IoStatus recvAll(void* data, size_t bytes, Deadline deadline);

  /// Non-blocking single transfers for the root's event loop: bytes moved, 0 when the call
  /// would block. recvSome also returns 0 on would-block and sets *closed on end of stream.
  /// Both throw ncclSystemError on a socket error.
  size_t sendSome(const void* data, size_t bytes);
  size_t recvSome(void* data, size_t bytes, bool* closed);

  int fd() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// Milliseconds from now until `deadline` for poll(), clamped to [0, INT_MAX].
int millisUntil(Deadline deadline);

}  // namespace prism::net
