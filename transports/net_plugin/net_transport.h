// The network-plugin transport: the slot FIFOs of transport.h carried by an NCCL network
// plugin (net_plugin.h), so a site's own plugin (EFA, TCPX, a vendor's InfiniBand or SHARP
// plugin) carries Prism's traffic between hosts unchanged. Connection set-up runs the
// plugin's listen, connect and accept with the handles carried over Prism's setup channel;
// each link's rings are registered once with regMr; isend, irecv and test move the slots
// (net_link.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transports/transport.h"

namespace prism {

namespace shm {
struct DoorbellBlock;
}

namespace net {
class Plugin;
}

struct NetTransportOptions {
  size_t slotBytes = 128 * 1024;
  int slotCount = 8;
  /// How long connection set-up may take before it fails.
  std::chrono::seconds connectTimeout{30};
  /// For log lines and error messages.
  std::string name;
  /// The doorbell the I/O thread rings; null gives the transport a private one.
  shm::DoorbellBlock* doorbell = nullptr;
  /// Passed to version 11 plugins, which keep a context per communicator.
  uint64_t commId = 0;
};

/// Collective over `setup`: connects this rank to each peer p with connect[p] set through
/// `plugin`. A failure on any rank (no listen, a refused or timed-out connection, a failed
/// registration) makes every rank throw, naming the rank and the plugin's reason.
std::unique_ptr<Transport> createNetTransport(SetupChannel& setup,
                                              std::shared_ptr<net::Plugin> plugin,
                                              const NetTransportOptions& options,
                                              const std::vector<bool>& connect);

}  // namespace prism
