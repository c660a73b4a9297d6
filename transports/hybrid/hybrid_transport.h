// The composite transport of a communicator spanning several hosts: shared memory between
// ranks of one host, TCP between hosts, and one doorbell that either wakes (the TCP I/O
// threads ring the rank's shared-memory futex doorbell).
#pragma once

#include <memory>
#include <vector>

#include "transports/tcp/tcp_transport.h"
#include "transports/transport.h"

namespace prism {

/// Collective over `setup`. `hostOf[r]` is rank r's host index (the same vector on every
/// rank). The shared-memory transport spans this rank's host only (its name gets the host
/// index appended, so emulated hosts sharing one /dev/shm do not collide); TCP connects
/// exactly the pairs on different hosts. Both use `shmOptions`' slot size and count.
std::unique_ptr<Transport> createHybridTransport(SetupChannel& setup,
                                                 const ShmTransportOptions& shmOptions,
                                                 TcpTransportOptions tcpOptions,
                                                 const std::vector<int>& hostOf);

}  // namespace prism
