// NCCL's environment as NCCL reads it: NCCL_ALGO and NCCL_PROTO in the per-collective
// grammar of NCCL 2.24+ ("Tree" meaning the double binary tree), malformed values refused
// as NCCL refuses them, NCCL_CONF_FILE read with the environment taking precedence, and one
// WARN for every NCCL_* variable Prism does not honor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "algorithms/algo_override.h"
#include "algorithms/registry.h"
#include "nccl.h"
#include "src/api/handle.h"
#include "src/comm/communicator.h"
#include "src/comm/planner.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"
#include "tests/harness/shell.h"

namespace prism {
namespace {

using prism::testing::ScopedEnv;
using test::Mode;
using test::RankContext;
using test::RunOptions;

bool knownForTest(std::string_view name) {
  return findAlgorithm(name) != nullptr || name == "tree" || name == "innet";
}

TEST(AlgorithmOverride, PerCollectiveGrammar) {
  const std::string_view v = "ring,pat;allreduce:tree,ring;AllGather:^pat";
  EXPECT_EQ(overrideFor(v, Collective::AllReduce), "tree,ring");
  EXPECT_EQ(overrideFor(v, Collective::AllGather), "^pat");
  EXPECT_EQ(overrideFor(v, Collective::Broadcast), "ring,pat");  // the general entry
  EXPECT_EQ(overrideFor("allreduce:ring", Collective::ReduceScatter), "");
  EXPECT_EQ(overrideFor("ring", Collective::Gather), "ring");
  EXPECT_EQ(overrideFor("", Collective::AllReduce), "");
  // A collective's own entry replaces the general one even when it is emptied.
  EXPECT_EQ(overrideFor("ring;allreduce:", Collective::AllReduce), "");
}

TEST(AlgorithmOverride, NcclNamesMeanWhatNcclMeans) {
  EXPECT_EQ(ncclAlgorithmNames("Tree"), "double_binary_tree");
  EXPECT_EQ(ncclAlgorithmNames("allreduce:tree,RING;allgather:^PAT"),
            "allreduce:double_binary_tree,ring;allgather:^pat");
  EXPECT_EQ(ncclAlgorithmNames("ring,collnetdirect,nvls"), "ring,innet");
  EXPECT_EQ(ncclAlgorithmNames("^NVLS,NVLSTree"), "^");
}

TEST(AlgorithmOverride, ProblemsAreNamed) {
  EXPECT_TRUE(overrideProblems("ring;allreduce:tree", knownForTest).empty());
  const auto unknownName = overrideProblems("allreduce:treee", knownForTest);
  ASSERT_EQ(unknownName.size(), 1u);
  EXPECT_NE(unknownName[0].find("treee"), std::string::npos);
  const auto unknownPrefix = overrideProblems("allreduse:ring", knownForTest);
  ASSERT_EQ(unknownPrefix.size(), 1u);
  EXPECT_NE(unknownPrefix[0].find("allreduse"), std::string::npos);
  EXPECT_EQ(overrideProblems("allreduce:ring;tree", knownForTest).size(), 1u);
  EXPECT_TRUE(overrideProblems("LL,Simple;allreduce:^LL128", isNcclProtocol).empty());
  EXPECT_EQ(overrideProblems("LL256", isNcclProtocol).size(), 1u);
}

/// The algorithm the plan path ran for one call of `c` on 3 thread ranks.
void expectAlgorithms(const char* ncclAlgo, const char* allreduce, const char* allgather) {
  ScopedEnv algo("NCCL_ALGO", ncclAlgo);
  ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "-1");
  RunOptions options;
  test::runRanks(
      3, Mode::Threads,
      [&](RankContext& ctx) {
        Communicator& comm = ctx.comm->get();
        std::vector<float> in(3 * 1000, 1.0f), out(3 * 1000);
        ctx.requireOk(
            ncclAllReduce(in.data(), out.data(), 1000, ncclFloat32, ncclSum, ctx.comm, nullptr),
            "ncclAllReduce");
        ctx.require(out[999] == 3.0f, "allreduce result");
        ctx.require(comm.planner().lastAlgorithm() == allreduce,
                    std::string("NCCL_ALGO=") + ncclAlgo + ": allreduce ran " +
                        comm.planner().lastAlgorithm() + ", not " + allreduce);
        ctx.requireOk(ncclAllGather(in.data(), out.data(), 1000, ncclFloat32, ctx.comm, nullptr),
                      "ncclAllGather");
        ctx.require(out[2999] == 1.0f, "allgather result");
        ctx.require(comm.planner().lastAlgorithm() == allgather,
                    std::string("NCCL_ALGO=") + ncclAlgo + ": allgather ran " +
                        comm.planner().lastAlgorithm() + ", not " + allgather);
      },
      options);
}

TEST(NcclAlgo, PerCollectiveEntriesChooseEachCollectivesAlgorithm) {
  expectAlgorithms("allreduce:tree;allgather:ring", "double_binary_tree", "ring");
  expectAlgorithms("ring;allreduce:tree", "double_binary_tree", "ring");
  expectAlgorithms("Tree,PAT", "double_binary_tree", "pat");
}

TEST(NcclAlgo, MalformedValuesAreRefusedAsNcclRefusesThem) {
  for (auto [variable, value] : {std::pair{"NCCL_ALGO", "allreduce:treee"},
                                 {"NCCL_ALGO", "allreduce:ring;tree"},
                                 {"NCCL_PROTO", "LL256"},
                                 {"PRISM_ALGO", "allreduse:ring"}}) {
    ScopedEnv bad(variable, value);
    RunOptions options;
    options.initComm = false;
    test::runRanks(
        2, Mode::Threads,
        [&](RankContext& ctx) {
          ncclComm_t comm = nullptr;
          const ncclResult_t r = ncclCommInitRank(&comm, ctx.nranks, ctx.id, ctx.rank);
          ctx.requireResult(r, ncclInvalidUsage, std::string(variable) + "=" + value);
          const std::string why = ncclGetLastError(nullptr);
          ctx.require(why.find(variable) != std::string::npos, "unclear error: " + why);
        },
        options);
  }
}

/// NCCL_CONF_FILE's settings apply where the environment has none, and NCCL_* variables
/// that nothing reads get a WARN each, from the environment and from the file alike.
TEST(NcclEnvironment, ConfFileAndUnhonoredVariables) {
  char path[] = "/tmp/prism-nccl-conf-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream conf(path);
    conf << "# a comment\nNCCL_ALGO=ring\nNCCL_BUFFSIZE=1234567\nNCCL_FROM_FILE_X=1\n";
  }
  const std::string command = std::string("env NCCL_CONF_FILE=") + path +
                              " NCCL_BUFFSIZE=2097152 NCCL_IB_HCA=mlx5_0 NCCL_DEBUG=INFO "
                              "NCCL_DEBUG_SUBSYS=ENV " +
                              PRISM_BENCH_BIN + " -np 2 allreduce -b 64K -e 64K -n 1 -w 1";
  const test::ShellOutcome out = test::runShell(command, 60);
  std::remove(path);
  EXPECT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("Out of bounds values : 0 OK"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("setting PRISM_ALGO=ring (NCCL_ALGO)"), std::string::npos)
      << "the file's NCCL_ALGO did not apply\n"
      << out.output;
  EXPECT_NE(out.output.find("setting PRISM_BUFFSIZE=2097152 (NCCL_BUFFSIZE)"), std::string::npos)
      << "the file overrode the environment\n"
      << out.output;
  EXPECT_NE(out.output.find("NCCL_IB_HCA is set but Prism does not honor it"), std::string::npos)
      << out.output;
  EXPECT_NE(out.output.find("NCCL_FROM_FILE_X is set but Prism does not honor it"),
            std::string::npos)
      << out.output;
  EXPECT_EQ(out.output.find("NCCL_ALGO is set but"), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find("NCCL_CONF_FILE is set but"), std::string::npos) << out.output;
}

}  // namespace
}  // namespace prism
