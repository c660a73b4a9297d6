// Bootstrap: how the ranks of a new communicator find each other from an ncclUniqueId.
// One process creates the id and, with it, a root service; every rank connects to the
// root, proves it knows the id's secret, registers, and then exchanges setup data through
// the returned SetupChannel. Ranks may be threads of one process or separate processes.
#pragma once

#include <memory>
#include <string>

#include "base/setup_channel.h"
#include "nccl.h"

namespace prism {

/// Picks the interface (PRISM_SOCKET_IFNAME), opens a listening TCP socket, starts the
/// root service as a detached thread of this process and writes an id carrying the root's
/// address and a fresh random secret. Throws prism::Error.
void createUniqueId(ncclUniqueId* id);

/// Throws Error(ncclInvalidArgument, reason) at once if `id` is not a well-formed Prism id.
void validateUniqueId(const ncclUniqueId& id);

/// Connects rank `rank` of `nranks` to the id's root, retrying until
/// PRISM_BOOTSTRAP_TIMEOUT_S ("cannot reach bootstrap root at ip:port" after that), proves
/// the secret and registers. Registration errors (duplicate rank, inconsistent nranks)
/// come back from the root as ncclInvalidUsage/ncclInvalidArgument. The channel's
/// allGather waits at most PRISM_TIMEOUT_S per round. Use one channel from one thread.
std::unique_ptr<SetupChannel> connectBootstrap(const ncclUniqueId& id, int rank, int nranks);

/// 16 hex characters, unique per id (derived from its secret, revealing nothing of it);
/// names shared-memory objects that belong to the communicator.
std::string uniqueIdTag(const ncclUniqueId& id);

}  // namespace prism
