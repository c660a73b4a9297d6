// The composite transport of a communicator spanning several hosts: shared memory between
// ranks of one host, a network transport (TCP or UCX) between hosts, and one doorbell that
// either wakes (the network transport's I/O threads ring the rank's shared-memory futex
// doorbell).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "transports/transport.h"

namespace prism {

namespace shm {
struct DoorbellBlock;
}

/// Builds the transport between hosts, collectively over `setup` (every rank of the
/// communicator): it connects exactly the peers with remote[p] set and rings `doorbell`.
using RemoteTransportFactory = std::function<std::unique_ptr<Transport>(
    SetupChannel& setup, shm::DoorbellBlock* doorbell, const std::vector<bool>& remote)>;

/// Collective over `setup`. `hostOf[r]` is rank r's host index (the same vector on every
/// rank). The shared-memory transport spans this rank's host only (its name gets the host
/// index appended, so emulated hosts sharing one /dev/shm do not collide); `remote`
/// connects exactly the pairs on different hosts, with the same slot size and count.
std::unique_ptr<Transport> createHybridTransport(SetupChannel& setup,
                                                 const ShmTransportOptions& shmOptions,
                                                 const RemoteTransportFactory& remote,
                                                 const std::vector<int>& hostOf);

}  // namespace prism
