// Which transport a communicator's ranks use, decided together at creation: PRISM_TRANSPORT
// forces one for every peer (shm, tcp or ucx); auto gives shared memory within a host and,
// between hosts, UCX where every rank's UCX reaches its remote peers over RDMA, else
// Prism's TCP. The choice and its reason are logged under NCCL_DEBUG_SUBSYS=NET.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transports/transport.h"

namespace prism {

class SetupChannel;

/// Collective over `setup`. `hostOf[r]` is rank r's host index (the same on every rank);
/// `name` names the communicator in log lines and shared-memory objects.
std::unique_ptr<Transport> chooseTransport(SetupChannel& setup, const std::string& name,
                                           const std::vector<int>& hostOf);

}  // namespace prism
