#include "tests/harness/matrix.h"

#include <algorithm>
#include <optional>

namespace prism::test {

namespace {

std::vector<std::optional<RefOp>> opsFor(Coll coll, const std::vector<RefOp>& ops) {
  if (!isReducing(coll)) return {std::nullopt};
  return {ops.begin(), ops.end()};
}

std::vector<int> rootsFor(Coll coll, int nranks) {
  if (!isRooted(coll) || nranks == 1) return {0};
  return {0, nranks - 1};
}

}  // namespace

size_t maxCountOf(const MatrixScope& scope) {
  size_t most = scope.bigFloat32Count;
  for (size_t c : scope.counts) most = std::max(most, c);
  return most;
}

void runCollectiveMatrix(int nranks, Mode mode, std::span<const Coll> colls,
                         const MatrixScope& scope, std::chrono::seconds timeout) {
  RunOptions options;
  for (Coll c : colls) {
    options.sharedBytes =
        std::max(options.sharedBytes, checkerSharedBytes(c, nranks, maxCountOf(scope)));
  }
  options.timeout = timeout;
  runRanks(
      nranks, mode,
      [&](RankContext& ctx) {
        for (Coll c : colls) runCases(ctx, c, scope);
      },
      options);
}

void runCases(RankContext& ctx, Coll coll, const MatrixScope& scope, Memory memory) {
  CollectiveChecker checker(ctx, coll, maxCountOf(scope), memory);
  for (ncclDataType_t dtype : scope.dtypes) {
    std::vector<size_t> counts = scope.counts;
    if (dtype == ncclFloat32 && scope.bigFloat32Count > 0) counts.push_back(scope.bigFloat32Count);
    for (const auto& op : opsFor(coll, scope.ops)) {
      checker.prepare(dtype, op);
      for (size_t count : counts) {
        for (bool inPlace : {false, true}) {
          if (inPlace && !hasInPlace(coll)) continue;
          for (int root : rootsFor(coll, ctx.nranks)) checker.run(count, inPlace, root);
        }
      }
    }
  }
}

}  // namespace prism::test
