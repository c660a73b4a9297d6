// A communicator belongs to the process that created it. A fork()ed child inherits the
// memory of the parent's communicators, but using one would make it a second copy of the
// parent's rank, taking the parent's messages and breaking its communicator. Handles
// remember the fork generation they were made in; a child's calls on them fail.
#pragma once

#include <cstdint>

namespace prism::api {

/// 0 in a process that was not forked since the library was loaded; each fork() adds 1
/// in the child. Reading it is a plain load, cheap enough for every call.
uint64_t forkGeneration();

}  // namespace prism::api
