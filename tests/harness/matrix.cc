#include "harness/matrix.h"

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

// Runs every case of `scope` for `coll` on the ranks of one communicator.
void runCases(RankContext& ctx, Coll coll, const MatrixScope& scope) {
  size_t maxCount = 0;
  for (size_t c : scope.counts) maxCount = std::max(maxCount, c);
  CollectiveChecker checker(ctx, coll, maxCount);
  for (ncclDataType_t dtype : scope.dtypes) {
    for (const auto& op : opsFor(coll, scope.ops)) {
      checker.prepare(dtype, op);
      for (size_t count : scope.counts) {
        for (bool inPlace : {false, true}) {
          if (inPlace && !hasInPlace(coll)) continue;
          for (int root : rootsFor(coll, ctx.nranks)) checker.run(count, inPlace, root);
        }
      }
    }
  }
}

}  // namespace prism::test
