#include "tests/gpu/gpu_fixtures.h"

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

void runDeviceMatrix(Coll coll, int nranks, Mode mode, const DeviceScope& scope) {
  RunOptions options = deviceRunOptions();
  options.sharedBytes = checkerSharedBytes(coll, nranks, maxCountOf(scope));
  options.timeout = std::chrono::seconds(240);
  const auto start = std::chrono::steady_clock::now();
  runRanks(
      nranks, mode, [&](RankContext& ctx) { runCases(ctx, coll, scope, Memory::Device); }, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ timing ] %s on %d ranks (%s, device memory): %.2f s\n", collectiveName(coll),
              nranks, modeName(mode), seconds);
}

}  // namespace prism::test
