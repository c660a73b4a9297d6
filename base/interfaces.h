// Which network interface the bootstrap root listens on. The matching rules are pure
// functions over an interface list, so they are tested without touching the host's network.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/socket.h"

namespace prism::net {

/// One address of one interface, as getifaddrs reports it.
struct Interface {
  std::string name;
  SocketAddress address;  ///< port 0
  bool up = false;
  bool loopback = false;
};

/// A parsed PRISM_SOCKET_IFNAME / NCCL_SOCKET_IFNAME value: "eth,ib" (prefixes), "^docker"
/// (all but these prefixes), "=eth0" (exact names), "^=eth0" (all but these exact names).
struct IfnameFilter {
  bool exclude = false;
  bool exact = false;
  std::vector<std::string> names;
};

IfnameFilter parseIfnameFilter(const std::string& spec);
bool matchesIfnameFilter(const IfnameFilter& filter, const std::string& name);

/// The interface to listen on. Only up IPv4 addresses are considered. With an empty `spec`:
/// the first one that is not loopback, docker* or virbr* (bridges that other hosts cannot
/// reach), else a loopback one. With a spec: the first non-loopback match, else a loopback
/// match. Nothing suitable: nullopt.
std::optional<Interface> selectInterface(const std::vector<Interface>& interfaces,
                                         const std::string& spec);

/// This host's interface addresses (IPv4 and IPv6) in getifaddrs order.
std::vector<Interface> listInterfaces();

}  // namespace prism::net
