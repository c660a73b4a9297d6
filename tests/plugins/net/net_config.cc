// The plugin's configuration, read at init: the interface to listen on, the properties
// it reports, and the logger every line goes through.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tests/plugins/net/net_plugin.h"

namespace prismtest {
namespace {

// Init may run once per communicator, from any thread; readers copy the config under the lock.
std::mutex configMutex;
Config config;
std::atomic<ncclDebugLogger_t> logger{nullptr};

/// NCCL's interface grammar: a comma list of name prefixes; a leading '^' excludes the
/// listed interfaces, then a leading '=' makes the names exact.
class InterfaceFilter {
 public:
  explicit InterfaceFilter(std::string_view spec) {
    if (!spec.empty() && spec.front() == '^') {
      exclude_ = true;
      spec.remove_prefix(1);
    }
    if (!spec.empty() && spec.front() == '=') {
      exact_ = true;
      spec.remove_prefix(1);
    }
    while (!spec.empty()) {
      size_t comma = spec.find(',');
      std::string_view item = spec.substr(0, comma);
      if (!item.empty()) names_.emplace_back(item);
      spec.remove_prefix(comma == std::string_view::npos ? spec.size() : comma + 1);
    }
  }

  bool accepts(std::string_view name) const {
    bool listed = false;
    for (const std::string& item : names_) {
      listed = listed || (exact_ ? name == item : name.starts_with(item));
    }
    return listed != exclude_;
  }

 private:
  bool exclude_ = false;
  bool exact_ = false;
  std::vector<std::string> names_;
};

const char* nonEmptyEnv(const char* name) {
  const char* value = getenv(name);
  return value != nullptr && value[0] != '\0' ? value : nullptr;
}

/// The first up IPv4 interface the filter accepts; without a filter, the first one that is
/// not loopback, else loopback. Returns the setting's name in `*source` for the log.
bool chooseInterface(Config* out, const char** source) {
  const char* spec = nonEmptyEnv("NCCL_SOCKET_IFNAME");
  *source = "NCCL_SOCKET_IFNAME";
  if (spec == nullptr) {
    spec = nonEmptyEnv("PRISM_SOCKET_IFNAME");
    *source = spec != nullptr ? "PRISM_SOCKET_IFNAME" : "default";
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  InterfaceFilter filter(spec != nullptr ? spec : "");
  const ifaddrs* chosen = nullptr;
  const ifaddrs* loopback = nullptr;
  for (const ifaddrs* ifa = list; ifa != nullptr && chosen == nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET) continue;
    if ((ifa->ifa_flags & IFF_UP) == 0) continue;
    if (spec != nullptr) {
      if (filter.accepts(ifa->ifa_name)) chosen = ifa;
    } else if ((ifa->ifa_flags & IFF_LOOPBACK) != 0) {
      if (loopback == nullptr) loopback = ifa;
    } else {
      chosen = ifa;
    }
  }
  if (chosen == nullptr) chosen = loopback;
  if (chosen != nullptr) {
    memcpy(&out->address, chosen->ifa_addr, sizeof(sockaddr_in));
    out->address.sin_port = 0;
    snprintf(out->ifName, sizeof(out->ifName), "%s", chosen->ifa_name);
  }
  freeifaddrs(list);
  return chosen != nullptr;
}

}  // namespace

void log(ncclDebugLogLevel level, unsigned long flags, const char* file, int line, const char* fmt,
         ...) {
  ncclDebugLogger_t fn = logger.load();
  if (fn == nullptr) return;
  char text[512];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof(text), fmt, args);
  va_end(args);
  fn(level, flags, file, line, "%s", text);
}

ncclResult_t loadConfig(ncclDebugLogger_t logFunction, int abiVersion) {
  logger.store(logFunction);
  Config next;
  if (const char* speed = nonEmptyEnv("PRISMTEST_NET_SPEED_MBPS")) next.speedMbps = atoi(speed);
  if (const char* latency = nonEmptyEnv("PRISMTEST_NET_LATENCY_US")) {
    next.latencyUs = strtof(latency, nullptr);
  }
  const char* source = nullptr;
  if (!chooseInterface(&next, &source)) {
    PRISMTEST_WARN("prismtest: no IPv4 interface matches %s", source);
    return ncclSystemError;
  }
  {
    std::lock_guard<std::mutex> lock(configMutex);
    config = next;
  }
  char address[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &next.address.sin_addr, address, sizeof(address));
  PRISMTEST_INFO(NCCL_INIT | NCCL_NET, "prismtest plugin v%d initialized (%s %s, from %s)",
                 abiVersion, next.ifName, address, source);
  return ncclSuccess;
}

Config currentConfig() {
  std::lock_guard<std::mutex> lock(configMutex);
  return config;
}

void fillProperties(ncclNetProperties_v11_t* props) {
  static char name[] = "prismtest";
  static char pciPath[] = "/sys/devices/virtual/net/prismtest";
  Config now = currentConfig();
  *props = {};
  props->name = name;
  props->pciPath = pciPath;
  props->guid = 0x5072697;
  props->ptrSupport = NCCL_PTR_HOST;
  props->regIsGlobal = 0;
  props->forceFlush = 0;
  props->speed = now.speedMbps;
  props->port = 1;
  props->latency = now.latencyUs;
  props->maxComms = 65536;
  props->maxRecvs = 1;
  props->netDeviceType = NCCL_NET_DEVICE_HOST;
  props->netDeviceVersion = 0;
  props->vProps.ndevs = 1;
  props->vProps.devs[0] = 0;
  props->maxP2pBytes = size_t{1} << 31;
  props->maxCollBytes = size_t{1} << 31;
  props->maxMultiRequestSize = 1;
}

}  // namespace prismtest
