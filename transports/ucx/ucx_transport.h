// The UCX transport: the slot FIFOs of transport.h carried by UCP active messages, so ranks
// reach each other over whatever UCX finds: RDMA (InfiniBand, RoCE), shared memory, or TCP.
// Memory is registered once per communicator; long messages move by zero-copy rendezvous
// between registered slots. The rank's waiting thread progresses the worker in progress();
// an I/O thread takes over while it sleeps or returns with sends in flight.
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

struct UcxTransportOptions {
  size_t slotBytes = 128 * 1024;
  int slotCount = 8;
  /// How long connection set-up may take before it fails.
  std::chrono::seconds connectTimeout{30};
  /// For log lines and error messages.
  std::string name;
  /// The doorbell the I/O thread rings; null gives the transport a private one (see
  /// TcpTransportOptions::doorbell).
  shm::DoorbellBlock* doorbell = nullptr;
};

/// Whether this build has the UCX transport.
bool ucxBuilt();

/// Collective over `setup`: every rank creates a UCP worker, shares its address, and
/// connects to each peer p with connect[p] set (symmetric, as for TCP). A failure on any
/// rank makes every rank throw, naming the rank and UCX's reason.
std::unique_ptr<Transport> createUcxTransport(SetupChannel& setup,
                                              const UcxTransportOptions& options,
                                              const std::vector<bool>& connect);

/// What UCX would use to reach each connected peer, one line per peer, and whether every
/// one of them is RDMA-capable (rc, dc, ud, or another transport with zero-copy put
/// between hosts); `transport` must come from createUcxTransport.
struct UcxReach {
  bool rdma = false;
  std::string summary;
};
UcxReach ucxReach(Transport& transport);

/// Whether every lane in ucp_ep_print_info's text is UCX's tcp transport. Over sockets
/// UCX's rendezvous copies anyway and costs a handshake per message, so such links send
/// every message eagerly. Pure, for tests.
bool ucxLanesAreSockets(const std::string& endpointInfo);

/// Whether this machine has an RDMA device at all (/sys/class/infiniband lists one), so
/// automatic selection can skip starting UCX where it cannot find RDMA.
bool rdmaDevicesPresent();

/// The RDMA verdict for one peer from ucp_ep_print_info's text: true when a lane uses an
/// RDMA transport (rc_*, dc_*, ud_*, srd, or another verbs transport). Pure, for tests.
bool ucxLanesAreRdma(const std::string& endpointInfo);

}  // namespace prism
