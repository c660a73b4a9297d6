// NCCL groups: operations issued between ncclGroupStart and ncclGroupEnd are queued per
// thread and run together at the outermost ncclGroupEnd, each on the path the router
// (src/comm/router.h) picks; a call outside a group is a group of one.
#pragma once

#include <functional>

#include "nccl.h"
#include "src/core/operation.h"

namespace prism {
class Communicator;
}

namespace prism::group {

bool active();
void start();
/// Queues `op` on `comm` in the open group (router.h's submit calls it).
void queue(Communicator& comm, const Operation& op);
/// Queues a communicator initialization to run at ncclGroupEnd (or runs it now).
void submitInit(std::function<void()> init);
/// Remembers that a call inside the open group failed: ncclGroupEnd then drops the whole
/// group and returns this error. No-op outside a group.
void recordError(ncclResult_t code);
/// Closes one level; at the outermost level runs everything queued. Throws on error,
/// including ncclInvalidUsage when no group is open.
void end();
/// Like end(), but returns the predicted time in microseconds instead of running.
float simulateEnd();

}  // namespace prism::group
