#include "src/bootstrap/fixed_root.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"

namespace prism::bootstrap {
namespace {

// Binds and listens; returns the socket, or an empty one with errno set.
net::Socket tryListen(const net::SocketAddress& address) {
  sockaddr_storage sa;
  socklen_t len = address.toSockaddr(&sa);
  net::Socket s(::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return s;
  int one = 1;
  if (::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      ::bind(s.fd(), reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
      ::listen(s.fd(), SOMAXCONN) != 0) {
    int saved = errno;
    s = net::Socket();
    errno = saved;
  }
  return s;
}

}  // namespace

net::Socket listenAt(const net::SocketAddress& address) {
  net::Socket s = tryListen(address);
  if (!s && errno == EADDRNOTAVAIL) {
    net::SocketAddress any;
    any.family = address.family;
    any.port = address.port;
    s = tryListen(any);
  }
  if (!s) throwSystemError("bootstrap: listening on rendezvous " + address.toString());
  return s;
}

RootStatus startRootAt(const UniqueIdFields& fields) {
  net::Socket listener = listenAt(fields.root);
  auto timeout =
      std::chrono::seconds(std::max<int64_t>(config::getInt(config::Setting::BootstrapTimeout), 1));
  log::info(log::kBootstrap | log::kInit, "bootstrap: root listening on rendezvous %s",
            fields.root.toString().c_str());
  return startRoot(std::move(listener), fields.secret, timeout);
}

}  // namespace prism::bootstrap
