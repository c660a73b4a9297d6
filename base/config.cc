#include "base/config.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "base/log.h"

namespace prism::config {

namespace {

struct Entry {
  Setting setting;
  const char* name;          // primary PRISM_ name
  const char* alias;         // NCCL name users already know, or nullptr
  const char* defaultValue;  // as it would be written in the environment
  const char* doc;
};

constexpr size_t kCount = static_cast<size_t>(Setting::Count_);

// The one table. Order must follow the enum; the static_assert below enforces it.
constexpr std::array<Entry, kCount> kTable = {{
    {Setting::Debug, "PRISM_DEBUG", "NCCL_DEBUG", "",
     "log level: VERSION, WARN, INFO or TRACE; unset logs nothing"},
    // NCCL's own default mask is INIT, BOOTSTRAP and ENV; keeping it means NCCL_DEBUG=INFO
    // shows the same kind of lines users are used to.
    {Setting::DebugSubsys, "PRISM_DEBUG_SUBSYS", "NCCL_DEBUG_SUBSYS", "INIT,BOOTSTRAP,ENV",
     "subsystems logged at INFO/TRACE: comma list of INIT, COLL, P2P, SHM, NET, GRAPH, TUNING, "
     "ENV, ALLOC, BOOTSTRAP, ALL; a leading ^ means all except"},
    {Setting::DebugFile, "PRISM_DEBUG_FILE", "NCCL_DEBUG_FILE", "",
     "log destination; %h expands to the host name, %p to the pid; unset is stderr"},
    {Setting::Algo, "PRISM_ALGO", "NCCL_ALGO", "", "force an algorithm (comma list)"},
    {Setting::Proto, "PRISM_PROTO", "NCCL_PROTO", "",
     "accepted and logged; the host path has a single protocol"},
    {Setting::SocketIfname, "PRISM_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME", "",
     "interfaces for bootstrap: comma list of prefixes, ^ excludes, = exact names; unset picks "
     "the first up IPv4 interface that is not loopback, docker* or virbr*, else lo"},
    {Setting::BuffSize, "PRISM_BUFFSIZE", "NCCL_BUFFSIZE", "1048576",
     "bytes of FIFO buffering per peer direction (K/M/G suffixes)"},
    {Setting::SlotCount, "PRISM_SLOTS", nullptr, "8", "slots each FIFO is cut into"},
    {Setting::Timeout, "PRISM_TIMEOUT_S", nullptr, "300",
     "seconds any blocking wait may last before it becomes an error"},
    {Setting::BootstrapTimeout, "PRISM_BOOTSTRAP_TIMEOUT_S", nullptr, "30",
     "seconds to reach the bootstrap root; also how long an idle root waits for ranks"},
    {Setting::SpinCount, "PRISM_SPIN", nullptr, "2000",
     "polls before a waiting rank yields the core (default: 2000; 200000 for a rank bound to "
     "cores of its own; at most 0 when ranks outnumber cores)"},
    {Setting::DirectMinBytes, "PRISM_DIRECT_MIN_BYTES", nullptr, "-1",
     "host calls at least this large read peers' buffers directly (threads: plain loads and "
     "streaming stores; processes: cross-memory attach) instead of staging through shared "
     "FIFOs; 0 disables it; -1 (the default), when PRISM_ALGO is unset: from 4 KiB when all "
     "ranks are threads of one process, from 4 MiB between processes when every rank's "
     "buffers come from ncclMemAlloc (mapped by the peers), else off (see perf/RESULTS.md)"},
    {Setting::TopoFile, "PRISM_TOPO_FILE", "NCCL_TOPO_FILE", "",
     "fabric description that replaces or extends discovery: Prism JSON, or NCCL topology XML"},
    {Setting::TopoDumpFile, "PRISM_TOPO_DUMP_FILE", "NCCL_TOPO_DUMP_FILE", "",
     "rank 0 writes the system topology here (JSON) after init"},
    {Setting::TuningFile, "PRISM_TUNING_FILE", nullptr, "",
     "cost-model profile written by prism-bench --calibrate; unset uses built-in constants"},
    {Setting::SocketNthreads, "PRISM_SOCKET_NTHREADS", "NCCL_SOCKET_NTHREADS", "0",
     "helper threads per TCP peer connection; 0 picks from the link speed"},
    {Setting::NsocksPerThread, "PRISM_NSOCKS_PERTHREAD", "NCCL_NSOCKS_PERTHREAD", "0",
     "sockets each TCP helper thread drives; 0 picks from the link speed"},
    {Setting::TcpPlacement, "PRISM_TCP_PLACEMENT", nullptr, "0",
     "1: a TCP link with one socket reads the messages of a data-moving step straight into "
     "the caller's buffer instead of a slot; off by default, as it measured no gain between "
     "emulated hosts (perf/RESULTS.md)"},
    {Setting::TransportKind, "PRISM_TRANSPORT", nullptr, "auto",
     "transport between ranks: auto (shared memory on one host; between hosts UCX where it "
     "reaches every peer over RDMA, else TCP; a loaded network plugin comes first), shm, or "
     "tcp, ucx or net (the network plugin) for every peer"},
    {Setting::InnetAddr, "PRISM_INNET_ADDR", nullptr, "",
     "host:port of a prism-innet aggregation service; overrides the topology file's"},
    {Setting::DeviceSync, "PRISM_DEVICE_SYNC", nullptr, "auto",
     "how ranks order collectives on CUDA buffers: auto (thread ranks of one process wait for "
     "each other inside their kernels; ranks in different processes use CUDA IPC events) or "
     "events (events for thread ranks too: no kernel waits for a peer, but every call meets "
     "the peers on the host, so each rank needs its own thread, and CUDA graph capture is "
     "refused)"},
    {Setting::SlotStores, "PRISM_SLOT_STORES", nullptr, "auto",
     "how a sender writes bulk data (pieces of 64 KiB or more) into shared-memory FIFO slots: "
     "plain (the receiver fetches it from the sender's cache), streaming (non-temporal stores "
     "to memory), or auto: streaming on AMD family 1Ah (Zen 5) and later, plain elsewhere, as "
     "measured in perf/RESULTS.md"},
    {Setting::NetPlugin, "PRISM_NET_PLUGIN", "NCCL_NET_PLUGIN", "",
     "NCCL network plugin carrying traffic between hosts: a file name or path, else "
     "libnccl-net-<name>.so; unset tries libnccl-net.so; none loads nothing"},
    {Setting::TunerPlugin, "PRISM_TUNER_PLUGIN", "NCCL_TUNER_PLUGIN", "",
     "NCCL tuner plugin the selector asks for every collective: a file name or path, else "
     "libnccl-tuner-<name>.so; unset tries libnccl-tuner.so, then the network plugin's "
     "library; none loads nothing"},
}};

constexpr bool tableFollowsEnum() {
  for (size_t i = 0; i < kCount; ++i) {
    if (static_cast<size_t>(kTable[i].setting) != i) return false;
  }
  return true;
}
static_assert(tableFollowsEnum(), "kTable must list settings in enum order");

const Entry& entry(Setting s) {
  auto index = static_cast<size_t>(s);
  check(index < kCount, ncclInternalError, "unknown configuration setting");
  return kTable[index];
}

/// Adds every NAME=VALUE line of `path` to the environment, where NAME is not set already
/// ('#' starts a comment line; a missing file is no error), as NCCL reads its files.
void loadConfFile(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t equals = line.find('=');
    if (equals == std::string::npos || equals == 0) continue;
    (void)setenv(line.substr(0, equals).c_str(), line.substr(equals + 1).c_str(), 0);
  }
}

/// NCCL's configuration files, once per process before the first setting is read:
/// NCCL_CONF_FILE, else ~/.nccl.conf, then /etc/nccl.conf. The environment wins over both,
/// and the first file over the second.
void loadConfFiles() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* named = std::getenv("NCCL_CONF_FILE");
    if (named != nullptr && *named != '\0') {
      loadConfFile(named);
    } else if (const passwd* user = getpwuid(getuid()); user != nullptr && user->pw_dir) {
      loadConfFile(std::string(user->pw_dir) + "/.nccl.conf");
    }
    loadConfFile("/etc/nccl.conf");
  });
}

// Reads the environment on every call: settings are read rarely (at init), and tests change
// them with setenv between cases. An empty variable counts as unset.
std::pair<std::string, const char*> lookup(const Entry& e) {
  loadConfFiles();
  for (const char* var : {e.name, e.alias}) {
    if (var == nullptr) continue;
    const char* value = std::getenv(var);
    if (value != nullptr && *value != '\0') return {value, var};
  }
  return {e.defaultValue, nullptr};
}

// "123", "-4", "64K", "2m", "1G": K/M/G are powers of 1024. Anything else is malformed.
std::optional<int64_t> parseInt(const std::string& text) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  if (i == text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t value = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    int digit = text[i] - '0';
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  int64_t scale = 1;
  if (i < text.size()) {
    switch (std::toupper(static_cast<unsigned char>(text[i++]))) {
      case 'K':
        scale = int64_t{1} << 10;
        break;
      case 'M':
        scale = int64_t{1} << 20;
        break;
      case 'G':
        scale = int64_t{1} << 30;
        break;
      default:
        return std::nullopt;
    }
  }
  if (i != text.size() || value > kMax / scale) return std::nullopt;
  value *= scale;
  return negative ? -value : value;
}

std::array<std::atomic<bool>, kCount> warnedMalformed{};

}  // namespace

std::string getString(Setting s) { return lookup(entry(s)).first; }

int64_t getInt(Setting s) {
  const Entry& e = entry(s);
  auto [text, from] = lookup(e);
  if (auto value = parseInt(text)) return *value;
  auto fallback = parseInt(e.defaultValue).value_or(0);
  if (from != nullptr && !warnedMalformed[static_cast<size_t>(s)].exchange(true)) {
    log::warn("%s=\"%s\" is not an integer; using the default %lld", from, text.c_str(),
              static_cast<long long>(fallback));
  }
  return fallback;
}

std::string source(Setting s) {
  const char* from = lookup(entry(s)).second;
  return from != nullptr ? from : "default";
}

const char* name(Setting s) { return entry(s).name; }

void warnUnhonoredNcclVariables() {
  static std::once_flag once;
  std::call_once(once, [] {
    loadConfFiles();
    for (char** var = environ; *var != nullptr; ++var) {
      const std::string_view entry(*var);
      if (entry.rfind("NCCL_", 0) != 0) continue;
      const std::string_view name = entry.substr(0, entry.find('='));
      if (name == "NCCL_CONF_FILE") continue;
      const bool honored = std::any_of(kTable.begin(), kTable.end(), [&](const Entry& e) {
        return e.alias != nullptr && name == e.alias;
      });
      if (!honored) {
        log::warn("%.*s is set but Prism does not honor it; it has no effect",
                  static_cast<int>(name.size()), name.data());
      }
    }
  });
}

void printAll(std::FILE* out) {
  for (const Entry& e : kTable) {
    auto [value, from] = lookup(e);
    std::fprintf(out, "%-26s = %-20s (%s)  %s\n", e.name, ("\"" + value + "\"").c_str(),
                 from != nullptr ? from : "default", e.doc);
  }
}

}  // namespace prism::config
