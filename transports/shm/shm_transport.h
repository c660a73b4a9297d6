// What other transports may ask of a shared-memory transport.
#pragma once

#include "transports/transport.h"

namespace prism::shm {

struct DoorbellBlock;

/// The doorbell of this rank inside `transport`, which must come from createShmTransport.
/// A composite transport rings it from other threads (shm::ringDoorbell) so one wait on
/// transport.doorbell() also wakes for them.
DoorbellBlock* ownDoorbellBlock(Transport& transport);

}  // namespace prism::shm
