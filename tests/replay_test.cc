// A call repeated with the same arguments reuses its plan (Communicator::run rewinds it).
// The results must still follow the buffers' current contents, and a different call in
// between, or a group, must not leave a stale plan behind.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nccl.h"
#include "tests/harness/rank_runner.h"

namespace prism::test {
namespace {

void repeatAndCheck(RankContext& ctx) {
  const int n = ctx.nranks, r = ctx.rank;
  for (size_t count : {size_t{1}, size_t{7}, size_t{300000}}) {
    std::vector<float> in(count), out(count), other(count);
    for (int round = 0; round < 4; ++round) {
      for (size_t i = 0; i < count; ++i) in[i] = static_cast<float>(r + round * 10 + i % 5);
      if (round == 2) {
        // A different call in between: another buffer, then a group.
        ctx.requireOk(
            ncclAllReduce(in.data(), other.data(), count, ncclFloat32, ncclMax, ctx.comm, nullptr),
            "ncclAllReduce(max)");
        ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
        ctx.requireOk(
            ncclAllReduce(in.data(), other.data(), count, ncclFloat32, ncclSum, ctx.comm, nullptr),
            "ncclAllReduce in a group");
        ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
      }
      ctx.requireOk(
          ncclAllReduce(in.data(), out.data(), count, ncclFloat32, ncclSum, ctx.comm, nullptr),
          "ncclAllReduce");
      for (size_t i = 0; i < count; ++i) {
        float want =
            static_cast<float>(n * (n - 1) / 2 + n * (round * 10 + static_cast<int>(i % 5)));
        if (out[i] != want) {
          ctx.fail("count " + std::to_string(count) + " round " + std::to_string(round) +
                   " element " + std::to_string(i) + ": got " + std::to_string(out[i]) +
                   ", expected " + std::to_string(want));
        }
      }
    }
  }
}

class Replay : public ::testing::TestWithParam<Mode> {};

TEST_P(Replay, RepeatedCallsFollowTheData) {
  for (int n : {1, 2, 3}) runRanks(n, GetParam(), repeatAndCheck);
}

INSTANTIATE_TEST_SUITE_P(Modes, Replay, ::testing::Values(Mode::Threads, Mode::Processes),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return std::string(modeName(info.param));
                         });

}  // namespace
}  // namespace prism::test
