// How the ranks of a communicator come to map the same shared memory object.
#pragma once

#include <string>

#include "transports/shm/shm_layout.h"
#include "transports/shm/shm_segment.h"

namespace prism {
class SetupChannel;
}

namespace prism::shm {

/// Collective over `setup`: rank 0 creates the object "/prism-<name>" sized for `layout`,
/// every other rank then maps it, and rank 0 unlinks the name once all have, so nothing is
/// left in /dev/shm even if a process dies later. Ranks also agree that they were given the
/// same name and layout. A failure on any rank (bad options, no memory, name in use) makes
/// every rank throw, none hangs.
ShmSegment mapSharedSegment(SetupChannel& setup, const std::string& name, const ShmLayout& layout);

}  // namespace prism::shm
