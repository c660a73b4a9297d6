// A bootstrap root at an address chosen in advance. ncclGetUniqueId picks a fresh port and
// ships it inside the id; a launcher (prism-run, mpirun, torchrun) instead announces one
// rendezvous address to every rank, so rank 0 must serve exactly there and every rank can
// build the same id on its own.
#pragma once

#include "base/socket.h"
#include "src/bootstrap/root.h"
#include "src/bootstrap/unique_id.h"

namespace prism::bootstrap {

/// Listens on `address` (port included) with SO_REUSEADDR, so the port of a run that just
/// ended can be reused at once. Where this host does not own the address (EADDRNOTAVAIL,
/// e.g. a name that resolves to a NAT address) it listens on the wildcard address of the
/// same family and port instead. Throws Error(ncclSystemError) naming the address.
net::Socket listenAt(const net::SocketAddress& address);

/// Starts a root thread serving `fields.secret` on `fields.root` (listenAt), with the idle
/// timeout PRISM_BOOTSTRAP_TIMEOUT_S, as createUniqueId does for a fresh port.
RootStatus startRootAt(const UniqueIdFields& fields);

}  // namespace prism::bootstrap
