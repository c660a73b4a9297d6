// What a rank does when its peers are not running the operation it runs, or when it must
// give up on an operation: the error that names both operations, and the notice that keeps
// the peers from waiting for it.
#pragma once

#include <cstdint>
#include <string>

#include "nccl.h"
#include "src/core/op_tag.h"

namespace prism {

class Transport;

/// Tells every peer of `transport` that this rank gave up on operation `seq` with `code`
/// and why, in one message each (a kAbandonedKind tag whose count field is the code, the
/// reason as payload). Best effort: a peer whose FIFO is full gets nothing; it is not
/// reading from this rank, and hears of the failure from a rank that told it.
void announceAbandon(Transport& transport, uint64_t seq, ncclResult_t code, const std::string& why);

/// For a message from transport rank `peer` whose tag is not `mine`'s: throws
/// ncclInvalidUsage naming this rank's operation and the peer's, or for an abandon notice
/// the peer's reason (ncclInvalidUsage for a peer's mismatch, else ncclRemoteError). The
/// message is left unconsumed.
[[noreturn]] void failMismatch(Transport& transport, const OpFingerprint& mine, int peer);

/// Throws as failMismatch does if some peer's FIFO holds an abandon notice at its head.
/// For waits that may be blocked on a peer that gave up while this rank was not reading
/// from it.
void checkAbandoned(Transport& transport, const OpFingerprint& mine);

}  // namespace prism
