// The router (src/comm/router.h): a lone C call is a group of one, so a grouped call and
// a native API call take the direct host path wherever the lone call does, and the plan
// wherever it does. The in-network path's share is in in_network_test.cc.
#include <gtest/gtest.h>

#include <string>

#include "tests/harness/rank_runner.h"
#include "tests/harness/route_check.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

/// An odd count: the direct path's slices and the plan's blocks both have tails.
constexpr size_t kCount = 4099;

struct Case {
  int nranks;
  Mode mode;
};

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  return std::string(modeName(info.param.mode)) + "_n" + std::to_string(info.param.nranks);
}

class RouterPaths : public ::testing::TestWithParam<Case> {};

TEST_P(RouterPaths, EveryRoadTakesTheDirectPath) {
  // Every non-empty call of a direct collective qualifies.
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runRanks(GetParam().nranks, GetParam().mode,
           [](RankContext& ctx) { requireEveryRoadTakes(ctx, Path::Direct, kCount); });
}

TEST_P(RouterPaths, EveryRoadTakesThePlanWhereTheDirectPathDoesNot) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1073741824");
  runRanks(GetParam().nranks, GetParam().mode,
           [](RankContext& ctx) { requireEveryRoadTakes(ctx, Path::Plan, kCount); });
}

INSTANTIATE_TEST_SUITE_P(Ranks, RouterPaths,
                         ::testing::Values(Case{2, Mode::Threads}, Case{3, Mode::Threads},
                                           Case{3, Mode::Processes}),
                         caseName);

}  // namespace
}  // namespace prism::test
