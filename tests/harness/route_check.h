// One road for every call (src/comm/router.h): the same AllReduce issued as a lone C call,
// inside an NCCL group, inside a group beside a point-to-point exchange, and through the
// native API must take the same path, and every one must compute the right sum.
#pragma once

#include <cstddef>

#include "src/comm/router.h"
#include "tests/harness/rank_runner.h"

namespace prism::test {

/// Runs the four forms of an AllReduce of `count` floats on `ctx`'s communicator and
/// requires each to be routed to `expected` (Communicator::routedTo) and to give the sum.
/// Ends by adopting ctx.comm into a native prism::Comm (ctx.comm becomes null).
void requireEveryRoadTakes(RankContext& ctx, Path expected, size_t count);

}  // namespace prism::test
