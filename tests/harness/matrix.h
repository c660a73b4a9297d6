// Runs a slice of the correctness matrix (types x operators x counts x in/out of place x
// roots) for one collective on the ranks of one communicator.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

#include "nccl.h"
#include "tests/harness/collective_check.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/reference.h"

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

/// The host-memory cases of `scope` for each of `colls` in turn, on one communicator of
/// `nranks` ranks run as `mode`, with shared memory sized for the largest checker.
void runCollectiveMatrix(int nranks, Mode mode, std::span<const Coll> colls,
                         const MatrixScope& scope,
                         std::chrono::seconds timeout = std::chrono::seconds(300));

}  // namespace prism::test
