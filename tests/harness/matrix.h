// Runs a slice of the correctness matrix (types x operators x counts x in/out of place x
// roots) for one collective on the ranks of one communicator.
#pragma once

#include <nccl.h>

#include <cstddef>
#include <vector>

#include "harness/collective_check.h"
#include "harness/rank_runner.h"
#include "harness/reference.h"

namespace prism::test {

struct MatrixScope {
  std::vector<ncclDataType_t> dtypes;
  std::vector<RefOp> ops;
  std::vector<size_t> counts;
};

/// Every case of `scope` for `coll`, checked with a CollectiveChecker on ctx.comm.
void runCases(RankContext& ctx, Coll coll, const MatrixScope& scope);

}  // namespace prism::test
