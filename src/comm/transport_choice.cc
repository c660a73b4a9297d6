#include "src/comm/transport_choice.h"

#include <algorithm>
#include <chrono>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"
#include "kernels/host/copy.h"
#include "transports/hybrid/hybrid_transport.h"
#include "transports/net_plugin/net_plugin.h"
#include "transports/net_plugin/net_transport.h"
#include "transports/tcp/tcp_transport.h"
#include "transports/ucx/ucx_transport.h"

namespace prism {

namespace {

ShmTransportOptions shmOptions(const std::string& name) {
  ShmTransportOptions options;
  int64_t slots = config::getInt(config::Setting::SlotCount);
  int64_t bytes = config::getInt(config::Setting::BuffSize);
  check(slots >= 2 && slots <= 1024, ncclInvalidArgument, "PRISM_SLOTS must be in [2, 1024]");
  check(bytes >= slots * 4096 && bytes <= (int64_t{1} << 32), ncclInvalidArgument,
        "PRISM_BUFFSIZE must be at least 4 KiB per slot and at most 4 GiB");
  options.slotCount = static_cast<int>(slots);
  // Slots hold whole cache lines and whole elements of every type.
  options.slotBytes = static_cast<size_t>(bytes / slots) & ~size_t{63};
  const std::string stores = config::getString(config::Setting::SlotStores);
  check(stores == "auto" || stores == "plain" || stores == "streaming", ncclInvalidArgument,
        "PRISM_SLOT_STORES must be auto, plain or streaming, not '" + stores + "'");
  options.streamingSlots =
      stores == "streaming" || (stores == "auto" && kernels::streamingSlotsPay());
  options.name = name;
  return options;
}

/// What both network transports take alike: shared memory's slot shape, the bootstrap
/// timeout for connecting, the name and the doorbell.
template <typename Options>
Options networkOptions(const std::string& name, shm::DoorbellBlock* doorbell) {
  const ShmTransportOptions slots = shmOptions(name);
  Options options;
  options.slotBytes = slots.slotBytes;
  options.slotCount = slots.slotCount;
  options.connectTimeout = std::chrono::seconds(config::getInt(config::Setting::BootstrapTimeout));
  options.name = name;
  options.doorbell = doorbell;
  return options;
}

TcpTransportOptions tcpOptions(const std::string& name, shm::DoorbellBlock* doorbell) {
  auto options = networkOptions<TcpTransportOptions>(name, doorbell);
  readTcpSettings(options);
  return options;
}

UcxTransportOptions ucxOptions(const std::string& name, shm::DoorbellBlock* doorbell) {
  return networkOptions<UcxTransportOptions>(name, doorbell);
}

NetTransportOptions netOptions(const std::string& name, shm::DoorbellBlock* doorbell,
                               uint64_t commId) {
  auto options = networkOptions<NetTransportOptions>(name, doorbell);
  options.commId = commId;
  return options;
}

/// The configured network plugin, or an ncclInvalidUsage naming why there is none (for
/// PRISM_TRANSPORT=net, which asks for it).
std::shared_ptr<net::Plugin> requiredPlugin() {
  const net::Loaded& loaded = net::loadPlugin();
  if (!loaded.plugin) {
    throw Error(ncclInvalidUsage,
                "PRISM_TRANSPORT=net, but no network plugin is usable: " +
                    (loaded.why.empty() ? std::string("none configured") : loaded.why));
  }
  return loaded.plugin;
}

/// Whether every rank says yes; `why` gets the first refusing rank's reason.
bool everyRankAgrees(SetupChannel& setup, bool mine, const std::string& myReason,
                     std::string& why) {
  const Refusal first =
      firstRefusal(setup, mine ? std::string() : (myReason.empty() ? "refused" : myReason));
  if (first.rank < 0) return true;
  why = "rank " + std::to_string(first.rank) + ": " + first.reason;
  return false;
}

/// Between hosts under auto: UCX when every rank's UCX reaches its remote peers over RDMA,
/// else TCP. Collective over `setup`.
std::unique_ptr<Transport> betweenHosts(SetupChannel& setup, const std::string& name,
                                        uint64_t commId, shm::DoorbellBlock* doorbell,
                                        const std::vector<bool>& remote) {
  std::string why;
  // A network plugin comes first, as in NCCL: a site installs one to carry its traffic.
  const net::Loaded& plugin = net::loadPlugin();
  const std::string noPlugin =
      plugin.why.empty() ? "no network plugin" : "no network plugin (" + plugin.why + ")";
  if (everyRankAgrees(setup, plugin.plugin != nullptr, noPlugin, why)) {
    log::info(log::kNet, "comm %s rank %d: network plugin %s between hosts", name.c_str(),
              setup.rank(), plugin.plugin->name().c_str());
    return createNetTransport(setup, plugin.plugin, netOptions(name, doorbell, commId), remote);
  }
  if (plugin.plugin) {
    log::warn(
        "comm %s rank %d: network plugin %s loaded here but not on every rank (%s); "
        "using Prism's transports",
        name.c_str(), setup.rank(), plugin.plugin->name().c_str(), why.c_str());
  }
  std::string mine;
  if (!ucxBuilt()) {
    mine = "built without UCX";
  } else if (!rdmaDevicesPresent()) {
    mine = "no RDMA device in /sys/class/infiniband";
  }
  if (everyRankAgrees(setup, mine.empty(), mine, why)) {
    std::unique_ptr<Transport> ucx;
    try {
      ucx = createUcxTransport(setup, ucxOptions(name, doorbell), remote);
    } catch (const Error& e) {
      // Creation fails on every rank or on none (the transport agrees on it), so every rank
      // falls back alike.
      why = e.what();
    }
    const UcxReach reach = ucx ? ucxReach(*ucx) : UcxReach{};
    if (ucx && everyRankAgrees(setup, reach.rdma,
                               "UCX reaches a peer without RDMA: " + reach.summary, why)) {
      log::info(log::kNet, "comm %s rank %d: ucx between hosts (%s)", name.c_str(), setup.rank(),
                reach.summary.c_str());
      return ucx;
    }
  }
  log::info(log::kNet, "comm %s rank %d: tcp between hosts, not ucx (%s)", name.c_str(),
            setup.rank(), why.c_str());
  return createTcpTransport(setup, tcpOptions(name, doorbell), remote);
}

}  // namespace

std::unique_ptr<Transport> chooseTransport(SetupChannel& setup, const std::string& name,
                                           const std::vector<int>& hostOf, uint64_t commId) {
  const std::string kind = config::getString(config::Setting::TransportKind);
  const int hosts = *std::max_element(hostOf.begin(), hostOf.end()) + 1;
  std::vector<bool> everyone(static_cast<size_t>(setup.size()), true);
  everyone[static_cast<size_t>(setup.rank())] = false;
  if (kind == "tcp" || kind == "ucx" || kind == "net") {
    log::info(log::kNet, "comm %s rank %d: %s to every peer, as PRISM_TRANSPORT asks", name.c_str(),
              setup.rank(), kind.c_str());
    if (kind == "tcp") return createTcpTransport(setup, tcpOptions(name, nullptr), everyone);
    if (kind == "ucx") return createUcxTransport(setup, ucxOptions(name, nullptr), everyone);
    std::shared_ptr<net::Plugin> plugin;
    std::string why;
    try {
      plugin = requiredPlugin();
    } catch (const Error& e) {
      why = e.what();
    }
    // Every rank fails alike when one lacks the plugin, instead of waiting for it.
    const Refusal first = firstRefusal(setup, why);
    if (first.rank >= 0) {
      throw Error(ncclInvalidUsage, "rank " + std::to_string(first.rank) + ": " + first.reason);
    }
    return createNetTransport(setup, plugin, netOptions(name, nullptr, commId), everyone);
  }
  check(kind == "auto" || kind == "shm", ncclInvalidArgument,
        "PRISM_TRANSPORT must be auto, shm, tcp, ucx or net, not '" + kind + "'");
  if (hosts == 1) return createShmTransport(setup, shmOptions(name));
  if (kind == "shm") {
    int other = static_cast<int>(std::find(hostOf.begin(), hostOf.end(), 1) - hostOf.begin());
    throw Error(ncclInvalidUsage, "PRISM_TRANSPORT=shm, but the ranks span " +
                                      std::to_string(hosts) + " hosts (rank " +
                                      std::to_string(other) +
                                      " is on another host or network namespace than rank 0)");
  }
  return createHybridTransport(
      setup, shmOptions(name),
      [&](SetupChannel& all, shm::DoorbellBlock* doorbell, const std::vector<bool>& remote) {
        return betweenHosts(all, name, commId, doorbell, remote);
      },
      hostOf);
}

}  // namespace prism
