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
  /// An extra count run for float32 only (0: none), large enough to leave any small-message
  /// path of the library.
  size_t bigFloat32Count = 0;
};

/// Largest count any case of `scope` uses.
size_t maxCountOf(const MatrixScope& scope);

/// Every case of `scope` for `coll`, checked with a CollectiveChecker on ctx.comm, with
/// buffers in `memory`: every type and operator, in and out of place, roots 0 and n-1.
void runCases(RankContext& ctx, Coll coll, const MatrixScope& scope, Memory memory = Memory::Host);

}  // namespace prism::test
