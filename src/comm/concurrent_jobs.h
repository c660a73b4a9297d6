// Jobs that must run at the same time: ranks of one communicator driven from one thread
// rendezvous with each other, so their blocking calls cannot run one after another.
#pragma once

#include <functional>
#include <vector>

namespace prism {

/// Runs every job, each on a thread of its own (a single job on the caller's thread), and
/// returns when all have returned. Rethrows the first job's exception, in job order.
void runConcurrently(std::vector<std::function<void()>>& jobs);

}  // namespace prism
