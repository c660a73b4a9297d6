// The UCX transport: reading UCX's endpoint description, messages of every size and their
// order between ranks as threads and processes over UCX's tcp (loopback) and shared-memory
// transports, every collective through the public API with PRISM_TRANSPORT=ucx, set-up
// failures on one rank, and the same collectives across emulated hosts (network namespaces,
// skipped where they cannot be created).
#include "transports/ucx/ucx_transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "src/api/handle.h"
#include "src/bootstrap/bootstrap.h"
#include "src/comm/communicator.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"
#include "tests/harness/shell.h"
#include "tests/harness/transport_traffic.h"

namespace prism {
namespace {

using prism::testing::ScopedEnv;
using test::Coll;
using test::Mode;
using test::RankContext;
using test::RunOptions;

#define SKIP_WITHOUT_UCX() \
  if (!ucxBuilt()) GTEST_SKIP() << "this build has no UCX transport (libucx-dev not found)"

// ---------------------------------------------------------------- loading UCX

bool ucpMapped() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("libucp.so") != std::string::npos) return true;
  }
  return false;
}

// First in the file, so that it runs before any test of this program loads UCX: loading it
// installs UCX's signal handlers, which a program that never uses UCX must not get.
TEST(UcxLoading, LibucpIsLoadedOnlyWhenATransportNeedsIt) {
  SKIP_WITHOUT_UCX();
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  EXPECT_FALSE(ucpMapped()) << "libucp was loaded before any UCX transport was created";
  RunOptions options;
  options.initComm = false;
  ScopedEnv tls("UCX_TLS", "self");
  test::runRanks(
      1, Mode::Threads,
      [&](RankContext& ctx) {
        auto setup = connectBootstrap(ctx.id, ctx.rank, ctx.nranks);
        auto t = createUcxTransport(*setup, UcxTransportOptions{}, std::vector<bool>(1, false));
        ctx.require(ucpMapped(), "a UCX transport exists but libucp is not mapped");
      },
      options);
}

// ---------------------------------------------------------------- reading UCX (pure)

TEST(UcxLanes, RdmaVerdictFromEndpointInfo) {
  const std::string tcpOnly =
      "#                 lane[0]:  0:tcp/lo.0 md[0]  -> md[0]/tcp/sysdev[255] rma_bw#0 am am_bw#0\n"
      "#                 lane[1]:  1:tcp/eth0.0 md[0] -> md[0]/tcp/sysdev[255] rma_bw#1 wireup\n";
  const std::string shm =
      "#   lane[0]:  3:posix/memory.0 md[1] -> md[1]/posix am\n"
      "#   lane[1]:  6:cma/memory.0 md[3] -> md[3]/cma rma_bw#0\n";
  EXPECT_FALSE(ucxLanesAreRdma(tcpOnly));
  EXPECT_FALSE(ucxLanesAreRdma(shm));
  EXPECT_FALSE(ucxLanesAreRdma(""));
  for (const char* tl : {"rc_mlx5", "rc_verbs", "dc_mlx5", "ud_verbs", "ud_mlx5", "srd"}) {
    const std::string ib =
        std::string("#  lane[0]:  2:") + tl + "/mlx5_0:1.0 md[2] -> md[2]/ib am am_bw#0\n";
    EXPECT_TRUE(ucxLanesAreRdma(tcpOnly + ib)) << tl;
  }
  EXPECT_TRUE(ucxLanesAreSockets(tcpOnly));
  EXPECT_FALSE(ucxLanesAreSockets(shm));
  EXPECT_FALSE(ucxLanesAreSockets(""));
  EXPECT_FALSE(ucxLanesAreSockets(
      tcpOnly + "#  lane[2]:  2:rc_mlx5/mlx5_0:1.0 md[2] -> md[2]/ib am am_bw#0\n"));
  // Names that merely contain the letters are not RDMA transports.
  EXPECT_FALSE(ucxLanesAreRdma("#  lane[0]:  0:tcp/ud0.0 md[0]\n"));
  EXPECT_FALSE(ucxLanesAreRdma("#  lane[0]:  0:xrc_fake/dev md[0]\n"));
}

// ---------------------------------------------------------------- transport level

struct UcxCase {
  int ranks;
  Mode mode;
  const char* tls;
  size_t slotBytes;
};

class UcxTransportLevel : public ::testing::TestWithParam<UcxCase> {};

TEST_P(UcxTransportLevel, PingPongAndOrderedStreams) {
  SKIP_WITHOUT_UCX();
  const UcxCase c = GetParam();
  ScopedEnv tls("UCX_TLS", c.tls);
  ScopedEnv devices("UCX_NET_DEVICES", "lo");
  RunOptions options;
  options.initComm = false;
  options.timeout = std::chrono::seconds(90);
  test::runRanks(
      c.ranks, c.mode,
      [&](RankContext& ctx) {
        auto setup = connectBootstrap(ctx.id, ctx.rank, ctx.nranks);
        UcxTransportOptions o;
        o.slotBytes = c.slotBytes;
        o.slotCount = 4;
        o.name = "ucx-transport-test";
        std::vector<bool> all(ctx.nranks, true);
        all[ctx.rank] = false;
        auto t = createUcxTransport(*setup, o, all);
        ctx.require(std::string(t->name()) == "ucx", "wrong transport");
        test::pingPong(ctx, *t);
        test::Traffic traffic(*t, 300);
        test::driveTraffic(ctx, *t, traffic);
      },
      options);
}

std::string caseName(const ::testing::TestParamInfo<UcxCase>& info) {
  const UcxCase& c = info.param;
  std::string tls = c.tls;
  for (char& ch : tls) ch = ch == ',' ? '_' : ch;
  return std::to_string(c.ranks) + "ranks_" + (c.mode == Mode::Threads ? "threads" : "processes") +
         "_" + tls + "_" + std::to_string(c.slotBytes / 1024) + "KiB";
}

INSTANTIATE_TEST_SUITE_P(OneHost, UcxTransportLevel,
                         ::testing::Values(UcxCase{2, Mode::Threads, "tcp", 16 * 1024},
                                           UcxCase{2, Mode::Processes, "tcp", 256 * 1024},
                                           UcxCase{3, Mode::Processes, "tcp", 64 * 1024},
                                           UcxCase{2, Mode::Processes, "sm,self", 16 * 1024},
                                           UcxCase{3, Mode::Threads, "sm,self", 256 * 1024}),
                         caseName);

TEST(UcxTransportSetup, AFailureOnOneRankFailsEveryRankNamingIt) {
  SKIP_WITHOUT_UCX();
  RunOptions options;
  options.initComm = false;
  options.timeout = std::chrono::seconds(60);
  test::runRanks(
      2, Mode::Processes,
      [&](RankContext& ctx) {
        auto setup = connectBootstrap(ctx.id, ctx.rank, ctx.nranks);
        // Each rank is its own (single-threaded) process here, so setenv is safe: rank 1's
        // UCX has no transport to start.
        setenv("UCX_TLS", ctx.rank == 1 ? "prism_no_such_transport" : "tcp", 1);
        setenv("UCX_NET_DEVICES", "lo", 1);
        UcxTransportOptions o;
        std::vector<bool> all(2, true);
        all[ctx.rank] = false;
        try {
          auto t = createUcxTransport(*setup, o, all);
          ctx.fail("created a UCX transport although rank 1's UCX cannot start");
        } catch (const Error& e) {
          const std::string what = e.what();
          ctx.require(
              what.find("rank 1") != std::string::npos && what.find("ucx") != std::string::npos,
              "unclear error: " + what);
        }
      },
      options);
}

// ---------------------------------------------------------------- collectives

class UcxCollectives : public ::testing::TestWithParam<const char*> {};

TEST_P(UcxCollectives, EveryCollectiveAsProcesses) {
  SKIP_WITHOUT_UCX();
  ScopedEnv transport("PRISM_TRANSPORT", "ucx");
  ScopedEnv tls("UCX_TLS", GetParam());
  ScopedEnv devices("UCX_NET_DEVICES", "lo");
  constexpr int kRanks = 3;
  const Coll colls[] = {Coll::AllReduce, Coll::Broadcast,     Coll::Reduce,
                        Coll::AllGather, Coll::ReduceScatter, Coll::AllToAll,
                        Coll::Gather,    Coll::Scatter,       Coll::SendRecv};
  const test::MatrixScope scope{{ncclFloat32, ncclInt32, ncclBfloat16},
                                {test::RefOp::Sum, test::RefOp::Max},
                                {0, 1, 7, 4099, 100003}};
  RunOptions options;
  for (Coll c : colls) {
    options.sharedBytes =
        std::max(options.sharedBytes, test::checkerSharedBytes(c, kRanks, 100003));
  }
  options.timeout = std::chrono::seconds(300);
  test::runRanks(
      kRanks, Mode::Processes,
      [&](RankContext& ctx) {
        Communicator& comm = ctx.comm->get();
        ctx.require(std::string(comm.transport().name()) == "ucx",
                    std::string("PRISM_TRANSPORT=ucx gave transport ") + comm.transport().name());
        for (Coll c : colls) test::runCases(ctx, c, scope);
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(Tls, UcxCollectives, ::testing::Values("tcp", "sm,self"),
                         [](const auto& info) {
                           return std::string(info.param) == "tcp" ? "tcp" : "sm_self";
                         });

TEST(UcxCollectives, ThreadRanksMixOfCollectives) {
  SKIP_WITHOUT_UCX();
  ScopedEnv transport("PRISM_TRANSPORT", "ucx");
  ScopedEnv tls("UCX_TLS", "tcp");
  ScopedEnv devices("UCX_NET_DEVICES", "lo");
  const test::MatrixScope scope{{ncclFloat32}, {test::RefOp::Sum}, {0, 7, 4099, 100003}};
  const Coll colls[] = {Coll::AllReduce, Coll::AllGather, Coll::ReduceScatter, Coll::SendRecv};
  RunOptions options;
  for (Coll c : colls) {
    options.sharedBytes = std::max(options.sharedBytes, test::checkerSharedBytes(c, 2, 100003));
  }
  test::runRanks(
      2, Mode::Threads,
      [&](RankContext& ctx) {
        for (Coll c : colls) test::runCases(ctx, c, scope);
      },
      options);
}

// ---------------------------------------------------------------- emulated hosts

/// Every collective and the point-to-point ring with UCX between (and within) emulated
/// hosts: prism-run puts each host in a network namespace of its own.
TEST(UcxEmulatedHosts, EveryCollectiveAndPointToPointOnTwoAndThreeHosts) {
  SKIP_WITHOUT_UCX();
  if (const std::string why = test::namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  const char* collectives[] = {"allreduce", "broadcast", "reduce",  "allgather", "reducescatter",
                               "alltoall",  "gather",    "scatter", "sendrecv"};
  for (auto [hosts, perHost] : {std::pair{2, 1}, {2, 2}, {3, 1}, {3, 2}}) {
    for (const char* collective : collectives) {
      const std::string command =
          std::string(
              "env PRISM_TRANSPORT=ucx UCX_TLS=tcp PRISM_TIMEOUT_S=60 NCCL_DEBUG=INFO "
              "NCCL_DEBUG_SUBSYS=NET,TUNING ") +
          PRISM_RUN_BIN + " --hosts " + std::to_string(hosts) + " --ranks-per-host " +
          std::to_string(perHost) + " -- " + PRISM_BENCH_BIN + " " + collective +
          " -d float,int32,bfloat16 -o sum,max -r all -b 8 -e 300K -f 23 -n 1 -w 1 -c 1";
      const test::ShellOutcome out = test::runShell(command, 120);
      EXPECT_EQ(out.status, 0) << command << "\n" << out.output;
      EXPECT_NE(out.output.find("Out of bounds values : 0 OK"), std::string::npos)
          << command << "\n"
          << out.output;
      EXPECT_NE(out.output.find("ucx to every peer"), std::string::npos)
          << "the ranks did not use UCX\n"
          << out.output;
      // UCX's own estimate of the link replaces discovery's (ucp_ep_evaluate_perf).
      EXPECT_NE(out.output.find("as the transport reports"), std::string::npos)
          << "UCX's figures did not reach the cost model\n"
          << out.output;
    }
  }
}

/// Without RDMA, automatic selection keeps Prism's TCP between hosts and says why.
TEST(UcxEmulatedHosts, AutoChoosesTcpWithoutRdmaAndSaysWhy) {
  if (const std::string why = test::namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  if (rdmaDevicesPresent()) GTEST_SKIP() << "this machine has RDMA devices";
  const std::string command = std::string("env NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=NET ") +
                              PRISM_RUN_BIN + " --hosts 2 --ranks-per-host 1 -- " +
                              PRISM_BENCH_BIN + " allreduce -b 8 -e 8 -n 1 -w 1";
  const test::ShellOutcome out = test::runShell(command, 60);
  EXPECT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("tcp between hosts, not ucx"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("no RDMA device"), std::string::npos) << out.output;
}

TEST(UcxChoice, ForcedWithoutUcxIsAClearError) {
  if (ucxBuilt()) GTEST_SKIP() << "this build has UCX; the refusal is for builds without it";
  ScopedEnv transport("PRISM_TRANSPORT", "ucx");
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm = nullptr;
  EXPECT_EQ(ncclCommInitRank(&comm, 1, id, 0), ncclInvalidUsage);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("no UCX"), std::string::npos);
  if (comm != nullptr) ncclCommDestroy(comm);
}

}  // namespace
}  // namespace prism
