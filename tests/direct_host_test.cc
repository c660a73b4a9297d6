// The direct host path (src/core/direct_host.cc): large host collectives that read peers'
// buffers in place, by plain loads between threads and by cross-memory attach between
// processes. PRISM_DIRECT_MIN_BYTES=1 sends every non-empty call of the implemented
// collectives down that path, so awkward counts and every type and operator reach it; a
// last test turns it off and checks large calls still take the FIFO plans correctly.
#include <gtest/gtest.h>
#include <nccl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>

#include "harness/collective_check.h"
#include "harness/matrix.h"
#include "harness/rank_runner.h"
#include "harness/reference.h"
#include "harness/scoped_env.h"

namespace prism::test {
namespace {

constexpr std::array<Coll, 6> kColls = {Coll::AllReduce,     Coll::AllGather, Coll::Broadcast,
                                        Coll::ReduceScatter, Coll::AlltoAll,  Coll::Reduce};

MatrixScope directScope() {
  return {
      {ncclFloat32, ncclBfloat16, ncclFloat16, ncclInt32, ncclUint8, ncclFloat8e5m2, ncclFloat64},
      {RefOp::Sum, RefOp::Prod, RefOp::Min, RefOp::Avg, RefOp::PreMulSum},
      {0, 1, 7, 4099, 65536 + 3}};
}

void runAll(int nranks, Mode mode, const MatrixScope& scope) {
  RunOptions options;
  size_t maxCount = *std::max_element(scope.counts.begin(), scope.counts.end());
  for (Coll c : kColls) {
    options.sharedBytes = std::max(options.sharedBytes, checkerSharedBytes(c, nranks, maxCount));
  }
  options.timeout = std::chrono::seconds(300);
  runRanks(
      nranks, mode,
      [&](RankContext& ctx) {
        for (Coll c : kColls) runCases(ctx, c, scope);
      },
      options);
}

std::string ranksName(const ::testing::TestParamInfo<int>& info) {
  return "n" + std::to_string(info.param);
}

class DirectThreads : public ::testing::TestWithParam<int> {};
class DirectProcesses : public ::testing::TestWithParam<int> {};

TEST_P(DirectThreads, EveryCallDirect) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runAll(GetParam(), Mode::Threads, directScope());
}

TEST_P(DirectProcesses, EveryCallDirect) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runAll(GetParam(), Mode::Processes, directScope());
}

INSTANTIATE_TEST_SUITE_P(Ranks, DirectThreads, ::testing::Values(2, 3, 5), ranksName);
INSTANTIATE_TEST_SUITE_P(Ranks, DirectProcesses, ::testing::Values(2, 3, 5), ranksName);

// With the path off, calls of several MiB take the FIFO plans (ring, recursive doubling).
TEST(DirectOff, LargeCallsTakeThePlans) {
  testing::ScopedEnv off("PRISM_DIRECT_MIN_BYTES", "0");
  runAll(3, Mode::Processes, {{ncclFloat32, ncclBfloat16}, {RefOp::Sum}, {1048576 + 3}});
}

}  // namespace
}  // namespace prism::test
