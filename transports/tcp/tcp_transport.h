// The TCP socket transport: the slot FIFOs of transport.h carried over TCP connections, so
// ranks on different hosts (or in different network namespaces) can talk. Each peer gets
// one or more sockets; a message's bytes are striped across them. The rank's waiting thread
// moves bytes between sockets and per-peer slot rings in progress(); background I/O threads
// (one per transport by default, never one per peer) take over while it sleeps or computes
// with bytes still to send, and ring its doorbell when something arrives.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "transports/transport.h"

namespace prism {

namespace shm {
struct DoorbellBlock;
}

struct TcpTransportOptions {
  size_t slotBytes = 128 * 1024;
  int slotCount = 8;
  /// Sockets per peer (0: choose from the link: 1 on loopback or links up to 10 Gb/s).
  int socketsPerPeer = 0;
  /// I/O threads of the transport; peers are divided among them (0: one).
  int threads = 0;
  /// Whether a link with one socket honours RecvConnection::receiveInto (PRISM_TCP_PLACEMENT).
  bool placement = false;
  /// How long connection set-up may take before it fails.
  std::chrono::seconds connectTimeout{30};
  /// For log lines and error messages.
  std::string name;
  /// The doorbell the I/O threads ring; null gives the transport a private one. The
  /// composite transport passes the rank's shared-memory doorbell so one wait covers both.
  shm::DoorbellBlock* doorbell = nullptr;
};

/// Reads PRISM_SOCKET_NTHREADS and PRISM_NSOCKS_PERTHREAD (and their NCCL aliases) into
/// `options`, throwing ncclInvalidArgument for values outside [0, 16], and
/// PRISM_TCP_PLACEMENT (0 or 1).
void readTcpSettings(TcpTransportOptions& options);

/// Collective over `setup`: every rank listens on the interface PRISM_SOCKET_IFNAME selects,
/// shares its address and a random token, and connects to each peer p with connect[p] set
/// (the mask must be symmetric: connect[a] on rank b iff connect[b] on rank a). A connection
/// that does not present the token is refused. Failures on any rank make every rank throw.
std::unique_ptr<Transport> createTcpTransport(SetupChannel& setup,
                                              const TcpTransportOptions& options,
                                              const std::vector<bool>& connect);

}  // namespace prism
