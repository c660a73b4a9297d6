// Which transport a communicator's ranks use, decided together at creation: PRISM_TRANSPORT
// forces one for every peer (shm, tcp, ucx, or net: the NCCL network plugin); auto gives
// shared memory within a host and, between hosts, the network plugin where every rank
// loaded one (PRISM_NET_PLUGIN / NCCL_NET_PLUGIN, else libnccl-net.so), else UCX where every
// rank's UCX reaches its remote peers over RDMA, else Prism's TCP. The choice and its
// reason are logged under NCCL_DEBUG_SUBSYS=NET.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transports/transport.h"

namespace prism {

class SetupChannel;

/// Collective over `setup`. `hostOf[r]` is rank r's host index (the same on every rank);
/// `name` names the communicator in log lines and shared-memory objects; `commId` is handed
/// to network plugins that keep a context per communicator.
std::unique_ptr<Transport> chooseTransport(SetupChannel& setup, const std::string& name,
                                           const std::vector<int>& hostOf, uint64_t commId);

}  // namespace prism
