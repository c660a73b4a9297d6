// NCCL network plugins: loading by NCCL's rules and versions (the newest of v11..v8), each
// way loading can fail and what Prism then says and does, the plugin transport's messages
// of every size and their order, every collective through the public API over it, and
// the same across emulated hosts, where automatic selection puts the plugin first. The
// plugin under test is tests/plugins/net/, built from the public ABI header alone.
#include "transports/net_plugin/net_plugin.h"

#include <gtest/gtest.h>

#include <chrono>
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
#include "transports/net_plugin/net_transport.h"

namespace prism {
namespace {

using prism::testing::ScopedEnv;
using test::Coll;
using test::Mode;
using test::RankContext;
using test::RunOptions;

std::string pluginPath(const char* variant) {
  return std::string(PRISM_TEST_PLUGIN_DIR) + "/libnccl-net-" + variant + ".so";
}

// ---------------------------------------------------------------- loading

TEST(NetPluginLoading, TheNewestVersionTheLibraryExportsIsUsed) {
  for (auto [variant, version] :
       {std::pair{"prismtest", 11}, {"prismtest11", 11}, {"prismtest8", 8}}) {
    const net::Loaded loaded = net::loadPluginNamed(pluginPath(variant));
    ASSERT_TRUE(loaded.plugin) << variant << ": " << loaded.why;
    EXPECT_EQ(loaded.plugin->version(), version) << variant;
    EXPECT_EQ(loaded.plugin->name(), "prismtest");
    net::DeviceProperties props;
    ASSERT_EQ(loaded.plugin->properties(0, &props), ncclSuccess);
    EXPECT_GT(props.speedMbps, 0);
  }
}

TEST(NetPluginLoading, EachFailureSaysWhy) {
  struct Bad {
    std::string name;
    const char* reason;
  };
  const Bad cases[] = {
      {PRISM_TEST_PLUGIN_DIR "/libnccl-net-missing.so", "No such file"},
      {pluginPath("nosymbol"), "exports none of ncclNetPlugin_v11"},
      {pluginPath("nodevices"), "reports no device"},
      {pluginPath("initfails"), "init failed"},
      {"none", "disabled"},
  };
  for (const Bad& bad : cases) {
    const net::Loaded loaded = net::loadPluginNamed(bad.name);
    EXPECT_FALSE(loaded.plugin) << bad.name;
    EXPECT_NE(loaded.why.find(bad.reason), std::string::npos)
        << bad.name << ": reason '" << loaded.why << "' lacks '" << bad.reason << "'";
  }
  // An unset name looks for the default library only, and its absence is no problem.
  const net::Loaded unset = net::loadPluginNamed("");
  EXPECT_TRUE(unset.quiet) << unset.why;
}

// ---------------------------------------------------------------- transport

struct NetCase {
  int ranks;
  Mode mode;
  size_t slotBytes;
  int slots;
};

class NetTransportLevel : public ::testing::TestWithParam<NetCase> {};

TEST_P(NetTransportLevel, PingPongAndOrderedStreams) {
  const NetCase c = GetParam();
  RunOptions options;
  options.initComm = false;
  options.timeout = std::chrono::seconds(90);
  test::runRanks(
      c.ranks, c.mode,
      [&](RankContext& ctx) {
        const net::Loaded loaded = net::loadPluginNamed(pluginPath("prismtest"));
        ctx.require(loaded.plugin != nullptr, "plugin not loaded: " + loaded.why);
        auto setup = connectBootstrap(ctx.id, ctx.rank, ctx.nranks);
        NetTransportOptions o;
        o.slotBytes = c.slotBytes;
        o.slotCount = c.slots;
        o.name = "net-transport-test";
        std::vector<bool> all(ctx.nranks, true);
        all[ctx.rank] = false;
        auto t = createNetTransport(*setup, loaded.plugin, o, all);
        ctx.require(std::string(t->name()) == "net:prismtest", "wrong transport");
        test::pingPong(ctx, *t);
        test::Traffic traffic(*t, 300);
        test::driveTraffic(ctx, *t, traffic);
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(OneHost, NetTransportLevel,
                         ::testing::Values(NetCase{2, Mode::Threads, 16 * 1024, 4},
                                           NetCase{2, Mode::Processes, 256 * 1024, 8},
                                           // More slots than the plugin's request limit.
                                           NetCase{3, Mode::Processes, 4 * 1024, 20},
                                           NetCase{3, Mode::Threads, 64 * 1024, 2}),
                         [](const auto& info) {
                           const NetCase& c = info.param;
                           return std::to_string(c.ranks) + "ranks_" +
                                  (c.mode == Mode::Threads ? "threads_" : "processes_") +
                                  std::to_string(c.slotBytes / 1024) + "KiB_" +
                                  std::to_string(c.slots) + "slots";
                         });

TEST(NetTransportSetup, AFailureOnOneRankFailsEveryRankNamingIt) {
  RunOptions options;
  options.initComm = false;
  options.timeout = std::chrono::seconds(60);
  test::runRanks(
      2, Mode::Processes,
      [&](RankContext& ctx) {
        const net::Loaded loaded = net::loadPluginNamed(pluginPath("prismtest"));
        ctx.require(loaded.plugin != nullptr, "plugin not loaded: " + loaded.why);
        auto setup = connectBootstrap(ctx.id, ctx.rank, ctx.nranks);
        NetTransportOptions o;
        // Rank 1 asks for slots larger than any plugin message: it fails before listening.
        if (ctx.rank == 1) o.slotBytes = size_t{3} << 30;
        std::vector<bool> all(2, true);
        all[ctx.rank] = false;
        try {
          auto t = createNetTransport(*setup, loaded.plugin, o, all);
          ctx.fail("created a transport although rank 1 could not start");
        } catch (const Error& e) {
          const std::string what = e.what();
          ctx.require(what.find("rank 1") != std::string::npos, "unclear error: " + what);
        }
      },
      options);
}

// ---------------------------------------------------------------- collectives

TEST(NetCollectives, EveryCollectiveAsProcesses) {
  ScopedEnv transport("PRISM_TRANSPORT", "net");
  ScopedEnv plugin("NCCL_NET_PLUGIN", pluginPath("prismtest").c_str());
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
        ctx.require(std::string(comm.transport().name()) == "net:prismtest",
                    std::string("PRISM_TRANSPORT=net gave transport ") + comm.transport().name());
        for (Coll c : colls) test::runCases(ctx, c, scope);
      },
      options);
}

TEST(NetCollectives, ThreadRanksWithTheOldestVersion) {
  ScopedEnv transport("PRISM_TRANSPORT", "net");
  ScopedEnv plugin("NCCL_NET_PLUGIN", pluginPath("prismtest8").c_str());
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

TEST(NetChoice, ForcedWithoutAPluginIsAClearError) {
  ScopedEnv transport("PRISM_TRANSPORT", "net");
  ScopedEnv plugin("NCCL_NET_PLUGIN", pluginPath("nodevices").c_str());
  RunOptions options;
  options.initComm = false;
  test::runRanks(
      2, Mode::Processes,
      [&](RankContext& ctx) {
        ncclComm_t comm = nullptr;
        const ncclResult_t r = ncclCommInitRank(&comm, ctx.nranks, ctx.id, ctx.rank);
        ctx.require(r == ncclInvalidUsage,
                    std::string("expected ncclInvalidUsage, got ") + ncclGetErrorString(r));
        const std::string why = ncclGetLastError(nullptr);
        ctx.require(why.find("no network plugin is usable") != std::string::npos &&
                        why.find("reports no device") != std::string::npos,
                    "unclear error: " + why);
      },
      options);
}

// ---------------------------------------------------------------- emulated hosts

std::string benchUnder(int hosts, int perHost, const std::string& env, const char* collective,
                       const char* sizes = "-b 8 -e 300K -f 23") {
  return "env PRISM_TIMEOUT_S=60 NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=NET,TUNING " + env + " " +
         PRISM_RUN_BIN + " --hosts " + std::to_string(hosts) + " --ranks-per-host " +
         std::to_string(perHost) + " -- " + PRISM_BENCH_BIN + " " + collective +
         " -d float,int32,bfloat16 -o sum,max -r all " + sizes + " -n 1 -w 1 -c 1";
}

/// Automatic selection puts a loaded plugin first between hosts, found by its short name
/// (libnccl-net-<name>.so on the library path), and feeds its figures to the cost model.
TEST(NetEmulatedHosts, EveryCollectiveOnTwoAndThreeHosts) {
  if (const std::string why = test::namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  const std::string env = std::string("LD_LIBRARY_PATH=") + PRISM_TEST_PLUGIN_DIR +
                          " NCCL_NET_PLUGIN=prismtest PRISMTEST_NET_SPEED_MBPS=8000";
  const char* collectives[] = {"allreduce", "broadcast", "reduce",  "allgather", "reducescatter",
                               "alltoall",  "gather",    "scatter", "sendrecv"};
  for (auto [hosts, perHost] : {std::pair{2, 1}, {2, 2}, {3, 1}}) {
    for (const char* collective : collectives) {
      const std::string command = benchUnder(hosts, perHost, env, collective);
      const test::ShellOutcome out = test::runShell(command, 120);
      EXPECT_EQ(out.status, 0) << command << "\n" << out.output;
      EXPECT_NE(out.output.find("Out of bounds values : 0 OK"), std::string::npos)
          << command << "\n"
          << out.output;
      EXPECT_NE(out.output.find("network plugin prismtest between hosts"), std::string::npos)
          << "the ranks did not use the plugin\n"
          << out.output;
      EXPECT_NE(out.output.find("network links at 1000 MB/s"), std::string::npos)
          << "the plugin's speed did not reach the cost model\n"
          << out.output;
    }
  }
}

/// A plugin that cannot be used is a WARN with the reason, and Prism's own transports
/// carry the traffic.
TEST(NetEmulatedHosts, AnUnusablePluginFallsBackWithAWarning) {
  if (const std::string why = test::namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  const std::pair<std::string, const char*> cases[] = {
      {PRISM_TEST_PLUGIN_DIR "/libnccl-net-missing.so", "No such file"},
      {pluginPath("nosymbol"), "exports none of ncclNetPlugin_v11"},
      {pluginPath("nodevices"), "reports no device"},
      {pluginPath("initfails"), "init failed"},
  };
  for (const auto& [plugin, reason] : cases) {
    const std::string command =
        benchUnder(2, 1, "NCCL_NET_PLUGIN=" + plugin, "allreduce", "-b 8 -e 64K -f 64");
    const test::ShellOutcome out = test::runShell(command, 60);
    EXPECT_EQ(out.status, 0) << command << "\n" << out.output;
    EXPECT_NE(out.output.find("Out of bounds values : 0 OK"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("not using a network plugin"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find(reason), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("tcp between hosts"), std::string::npos) << out.output;
  }
}

}  // namespace
}  // namespace prism
