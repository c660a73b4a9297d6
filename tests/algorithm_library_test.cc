// Every algorithm of the library, forced with PRISM_ALGO and run by the executor through
// the public C API, for every collective it supports: a slice of the correctness matrix
// (float32, int32, bf16 x sum, max, avg x counts 0 .. 100003, in and out of place, roots 0
// and n-1) on 1, 2, 3, 5 and 8 thread ranks (algorithms with scratch blocks also on 4, 6
// and 13), with the default FIFOs and with the smallest ones (two 4 KiB slots per link:
// many rounds per call, links full most of the time). The symbolic verifier
// (algorithms_test) proves the schedules; this proves that the executor runs them as the
// verifier reads them.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/registry.h"
#include "algorithms/select.h"
#include "nccl.h"
#include "tests/harness/collective_check.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/reference.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

constexpr size_t kBigCount = 100003;

constexpr Collective kCollectives[] = {
    Collective::AllReduce,     Collective::Broadcast, Collective::Reduce, Collective::AllGather,
    Collective::ReduceScatter, Collective::AllToAll,  Collective::Gather, Collective::Scatter,
};

Coll collOf(Collective c) {
  switch (c) {
    case Collective::AllReduce:
      return Coll::AllReduce;
    case Collective::Broadcast:
      return Coll::Broadcast;
    case Collective::Reduce:
      return Coll::Reduce;
    case Collective::AllGather:
      return Coll::AllGather;
    case Collective::ReduceScatter:
      return Coll::ReduceScatter;
    case Collective::AllToAll:
      return Coll::AllToAll;
    case Collective::Gather:
      return Coll::Gather;
    case Collective::Scatter:
      return Coll::Scatter;
  }
  return Coll::AllReduce;
}

std::vector<std::string> algorithmNames() {
  std::vector<std::string> names;
  for (const AlgorithmInfo& info : allAlgorithms()) names.push_back(info.name);
  return names;
}

/// The smallest FIFOs the transport accepts.
constexpr const char* kTightBuffSize = "8192";
constexpr const char* kTightSlots = "2";

class ForcedAlgorithm
    : public ::testing::TestWithParam<std::tuple<std::string, int, bool /* tight */>> {};

TEST_P(ForcedAlgorithm, PassesTheMatrixForEverySupportedCollective) {
  const auto& [name, nranks, tight] = GetParam();
  const AlgorithmInfo* info = findAlgorithm(name);
  ASSERT_NE(info, nullptr);
  std::vector<Collective> supported;
  for (Collective c : kCollectives) {
    if (info->supports(c)) supported.push_back(c);
  }
  ASSERT_FALSE(supported.empty());
  // The communicator reads PRISM_ALGO when it is created, before any rank thread starts.
  testing::ScopedEnv algo("PRISM_ALGO", name.c_str());
  testing::ScopedEnv buffSize("PRISM_BUFFSIZE", tight ? kTightBuffSize : nullptr);
  testing::ScopedEnv slots("PRISM_SLOTS", tight ? kTightSlots : nullptr);
  for (Collective c : supported) {
    // Forcing works: the selector returns the algorithm at every size the matrix uses.
    for (size_t bytes : {size_t{0}, size_t{4}, kBigCount * 4}) {
      ASSERT_STREQ(selectAlgorithm({c, nranks, bytes, name}).name, info->name)
          << collectiveName(c) << " " << bytes << " bytes";
    }
  }
  const MatrixScope scope{{ncclFloat32, ncclInt32, ncclBfloat16},
                          {RefOp::Sum, RefOp::Max, RefOp::Avg},
                          {0, 1, 7, 4099},
                          kBigCount};
  RunOptions options;
  for (Collective c : supported) {
    options.sharedBytes =
        std::max(options.sharedBytes, checkerSharedBytes(collOf(c), nranks, kBigCount));
  }
  options.timeout = std::chrono::seconds(300);
  runRanks(
      nranks, Mode::Threads,
      [&](RankContext& ctx) {
        for (Collective c : supported) runCases(ctx, collOf(c), scope);
      },
      options);
}

std::string caseName(const ::testing::TestParamInfo<ForcedAlgorithm::ParamType>& info) {
  return std::get<0>(info.param) + "_n" + std::to_string(std::get<1>(info.param)) +
         (std::get<2>(info.param) ? "_tight" : "");
}

INSTANTIATE_TEST_SUITE_P(Library, ForcedAlgorithm,
                         ::testing::Combine(::testing::ValuesIn(algorithmNames()),
                                            ::testing::Values(1, 2, 3, 5, 8), ::testing::Bool()),
                         caseName);

/// The algorithms with a schedule that uses scratch blocks (for 8 ranks): their relays and
/// partial sums span more tree levels on more ranks, so they run on more team sizes.
std::vector<std::string> scratchAlgorithmNames() {
  std::vector<std::string> names;
  for (const AlgorithmInfo& info : allAlgorithms()) {
    bool uses = false;
    for (Collective c : kCollectives) {
      if (info.supports(c)) uses |= info.generate({c, 8, 7}).scratchBlocks > 0;
    }
    if (uses) names.push_back(info.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Scratch, ForcedAlgorithm,
                         ::testing::Combine(::testing::ValuesIn(scratchAlgorithmNames()),
                                            ::testing::Values(4, 6, 13), ::testing::Bool()),
                         caseName);

}  // namespace
}  // namespace prism::test
