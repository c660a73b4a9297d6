#include "transports/in_network/in_network_protocol.h"

#include <netdb.h>
#include <sys/socket.h>

#include "base/error.h"

namespace prism::innet {

net::SocketAddress parseAddress(const std::string& text) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close != std::string::npos && close + 1 < text.size() && text[close + 1] == ':') {
      host = text.substr(1, close - 1);
      port = text.substr(close + 2);
    }
  } else if (size_t colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || port.empty()) {
    throw Error(ncclInvalidArgument,
                "in-network address '" + text + "' is not host:port (PRISM_INNET_ADDR)");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw Error(ncclInvalidArgument,
                "in-network address '" + text + "' does not resolve: " + gai_strerror(rc));
  }
  net::SocketAddress address = net::SocketAddress::fromSockaddr(found->ai_addr);
  freeaddrinfo(found);
  return address;
}

}  // namespace prism::innet
