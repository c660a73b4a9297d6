#include "gpu_fixtures.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

namespace prism::test {

void CudaTest::SetUp() {
  const std::string reason = cudaUnavailableReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
}

RunOptions deviceRunOptions() {
  RunOptions options;
  options.rankSetup = selectRankDevice;
  return options;
}

void requireCuda(RankContext& ctx, cudaError_t e, const std::string& call) {
  if (e == cudaSuccess) return;
  ctx.fail(call + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

size_t maxCountOf(const DeviceScope& scope) {
  size_t most = scope.bigFloat32Count;
  for (size_t c : scope.counts) most = std::max(most, c);
  return most;
}

void runDeviceCases(RankContext& ctx, Coll coll, const DeviceScope& scope) {
  CollectiveChecker checker(ctx, coll, maxCountOf(scope), Memory::Device);
  std::vector<std::optional<RefOp>> ops = {std::nullopt};
  if (isReducing(coll)) ops.assign(scope.ops.begin(), scope.ops.end());
  std::vector<int> roots = {0};
  if (isRooted(coll) && ctx.nranks > 1) roots.push_back(ctx.nranks - 1);
  for (ncclDataType_t dtype : scope.dtypes) {
    std::vector<size_t> counts = scope.counts;
    if (dtype == ncclFloat32 && scope.bigFloat32Count > 0) counts.push_back(scope.bigFloat32Count);
    for (const auto& op : ops) {
      checker.prepare(dtype, op);
      for (size_t count : counts) {
        for (bool inPlace : {false, true}) {
          if (inPlace && !hasInPlace(coll)) continue;
          for (int root : roots) checker.run(count, inPlace, root);
        }
      }
    }
  }
}

void runDeviceMatrix(Coll coll, int nranks, Mode mode, const DeviceScope& scope) {
  RunOptions options = deviceRunOptions();
  options.sharedBytes = checkerSharedBytes(coll, nranks, maxCountOf(scope));
  options.timeout = std::chrono::seconds(240);
  const auto start = std::chrono::steady_clock::now();
  runRanks(
      nranks, mode, [&](RankContext& ctx) { runDeviceCases(ctx, coll, scope); }, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ timing ] %s on %d ranks (%s, device memory): %.2f s\n", collName(coll), nranks,
              modeName(mode), seconds);
}

}  // namespace prism::test
