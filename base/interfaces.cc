#include "base/interfaces.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include "base/error.h"

namespace prism::net {

namespace {

std::string trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool isVirtualBridge(const std::string& name) {
  return startsWith(name, "docker") || startsWith(name, "virbr");
}

}  // namespace

IfnameFilter parseIfnameFilter(const std::string& spec) {
  IfnameFilter filter;
  std::string s = trim(spec);
  if (!s.empty() && s[0] == '^') {
    filter.exclude = true;
    s.erase(0, 1);
  }
  if (!s.empty() && s[0] == '=') {
    filter.exact = true;
    s.erase(0, 1);
  }
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    std::string name = trim(s.substr(pos, comma - pos));
    if (!name.empty()) filter.names.push_back(name);
    pos = comma + 1;
  }
  return filter;
}

bool matchesIfnameFilter(const IfnameFilter& filter, const std::string& name) {
  bool listed = false;
  for (const auto& n : filter.names) {
    if (filter.exact ? name == n : startsWith(name, n)) listed = true;
  }
  return filter.exclude ? !listed : listed;
}

std::optional<Interface> selectInterface(const std::vector<Interface>& interfaces,
                                         const std::string& spec) {
  IfnameFilter filter = parseIfnameFilter(spec);
  bool useFilter = !trim(spec).empty();
  auto wanted = [&](const Interface& i) {
    return useFilter ? matchesIfnameFilter(filter, i.name) : !isVirtualBridge(i.name);
  };
  // Pass 0 prefers addresses other hosts can reach; pass 1 falls back to loopback.
  for (bool loopbackPass : {false, true}) {
    for (const auto& i : interfaces) {
      if (!i.up || i.address.family != SocketAddress::Family::IPv4) continue;
      if (i.loopback == loopbackPass && wanted(i)) return i;
    }
  }
  return std::nullopt;
}

std::vector<Interface> listInterfaces() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) throwSystemError("bootstrap: getifaddrs");
  std::vector<Interface> result;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    int family = a->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    Interface i;
    i.name = a->ifa_name;
    i.address = SocketAddress::fromSockaddr(a->ifa_addr);
    i.address.port = 0;
    i.up = (a->ifa_flags & IFF_UP) != 0;
    i.loopback = (a->ifa_flags & IFF_LOOPBACK) != 0;
    result.push_back(std::move(i));
  }
  ::freeifaddrs(list);
  return result;
}

}  // namespace prism::net
