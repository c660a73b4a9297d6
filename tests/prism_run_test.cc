// prism-run on one host: ranks get their variables, prism-bench runs as the launcher's
// world and checks its results, a failing rank's status becomes prism-run's, and nothing a
// failed run started outlives it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/harness/shell.h"
#include "tools/prism-run/fabric_plan.h"

#ifndef PRISM_RUN_BIN
#error "tests/CMakeLists.txt defines PRISM_RUN_BIN"
#endif

namespace {

using Outcome = prism::test::ShellOutcome;
using prism::test::runShell;

std::string prismRun() { return PRISM_RUN_BIN; }
std::string prismBench() { return PRISM_BENCH_BIN; }

int countLines(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

bool processGoneNow(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

// A SIGKILL is delivered asynchronously: give the process up to 3 s to disappear.
bool processGone(long pid) {
  for (int i = 0; i < 60; ++i) {
    if (processGoneNow(pid)) return true;
    usleep(50 * 1000);
  }
  return false;
}

// Placement against a count of where each rank lands, for many shapes.
TEST(FabricPlan, PlacementPutsRanksPerHostEverywhere) {
  using prism::run::Placement;
  for (int hosts = 1; hosts <= 7; ++hosts) {
    for (int perHost = 1; perHost <= 5; ++perHost) {
      for (Placement p : {Placement::Block, Placement::RoundRobin}) {
        auto slots = prism::run::placeRanks(hosts, perHost, p);
        ASSERT_EQ(slots.size(), static_cast<size_t>(hosts * perHost));
        std::vector<std::vector<int>> onHost(hosts);
        for (int r = 0; r < hosts * perHost; ++r) {
          int expected = p == Placement::Block ? r / perHost : r % hosts;
          EXPECT_EQ(slots[r].host, expected) << hosts << "x" << perHost << " rank " << r;
          EXPECT_EQ(slots[r].localSize, perHost);
          // Local ranks number a host's ranks 0.. in rank order.
          EXPECT_EQ(slots[r].localRank, static_cast<int>(onHost[slots[r].host].size()));
          onHost[slots[r].host].push_back(r);
        }
        for (const auto& ranks : onHost) EXPECT_EQ(ranks.size(), static_cast<size_t>(perHost));
      }
    }
  }
}

TEST(FabricPlan, NamesFitInterfaceLimitsAndRatesParse) {
  prism::run::FabricNames names(4194304);  // the largest Linux pid
  EXPECT_EQ(names.hostNamespace(3), "prism-4194304-h3");
  EXPECT_EQ(names.switchNamespace(), "prism-4194304-sw");
  EXPECT_LE(names.hostLink(prism::run::kMaxHosts - 1).size(), 15u);
  EXPECT_LE(names.switchLink(prism::run::kMaxHosts - 1).size(), 15u);
  EXPECT_EQ(names.hostLink(0).rfind(names.linkPrefix(), 0), 0u);
  EXPECT_EQ(names.hostAddress(0), "10." + std::to_string(names.subnet) + ".0.1");
  EXPECT_EQ(names.innetAddress(), "10." + std::to_string(names.subnet) + ".0.254");
  EXPECT_EQ(prism::run::parseBitsPerSecond("1gbit"), 1000000000u);
  EXPECT_EQ(prism::run::parseBitsPerSecond("2.5mbit"), 2500000u);
  EXPECT_EQ(prism::run::parseBitsPerSecond("10mbps"), 80000000u);
  EXPECT_EQ(prism::run::parseBitsPerSecond("1gb"), 0u);
  EXPECT_EQ(prism::run::parseBitsPerSecond("fast"), 0u);
  EXPECT_DOUBLE_EQ(prism::run::parseDelayMicros("50us"), 50);
  EXPECT_DOUBLE_EQ(prism::run::parseDelayMicros("1.5ms"), 1500);
  EXPECT_LT(prism::run::parseDelayMicros("50"), 0);
}

TEST(PrismRun, EveryRankGetsItsVariables) {
  Outcome out = runShell(prismRun() +
                         " -np 3 -- sh -c 'echo \"R $PRISM_RANK $PRISM_NRANKS $PRISM_LOCAL_RANK "
                         "$PRISM_LOCAL_SIZE $PRISM_RENDEZVOUS ${#PRISM_JOB_SECRET}\"'");
  ASSERT_EQ(out.status, 0) << out.output;
  std::set<std::string> rendezvous;
  for (int r = 0; r < 3; ++r) {
    std::string prefix = "R " + std::to_string(r) + " 3 " + std::to_string(r) + " 3 127.0.0.1:";
    size_t at = out.output.find(prefix);
    ASSERT_NE(at, std::string::npos) << out.output;
    std::string rest = out.output.substr(at + prefix.size());
    rendezvous.insert(rest.substr(0, rest.find(' ')));
    EXPECT_EQ(rest.substr(rest.find(' ') + 1, 2), "64") << "a 32-byte hex secret";
  }
  EXPECT_EQ(rendezvous.size(), 1u) << "all ranks share one rendezvous";
}

/// torchrun's variables (torch.distributed's env:// reads them), with MASTER_PORT apart
/// from Prism's rendezvous; -x as mpirun has it; --tag-output as mpirun writes it.
TEST(PrismRun, TorchrunVariablesExportsAndTaggedOutput) {
  Outcome out = runShell(
      "env PRISM_RUN_TEST_INHERITED=yes " + prismRun() +
      " -np 3 --tag-output -x PRISM_RUN_TEST_SET=value -x PRISM_RUN_TEST_INHERITED -- sh -c "
      "'echo \"T $RANK $WORLD_SIZE $LOCAL_RANK $LOCAL_WORLD_SIZE $MASTER_ADDR $MASTER_PORT "
      "$PRISM_RENDEZVOUS $PRISM_RUN_TEST_SET $PRISM_RUN_TEST_INHERITED\"; echo oops >&2; "
      "printf unterminated'");
  ASSERT_EQ(out.status, 0) << out.output;
  std::set<std::string> masters;
  for (int r = 0; r < 3; ++r) {
    const std::string tag = "[1," + std::to_string(r) + "]";
    std::string prefix =
        tag + "<stdout>:T " + std::to_string(r) + " 3 " + std::to_string(r) + " 3 127.0.0.1 ";
    size_t at = out.output.find(prefix);
    ASSERT_NE(at, std::string::npos) << out.output;
    std::istringstream rest(out.output.substr(at + prefix.size()));
    std::string port, rendezvous, set, inherited;
    rest >> port >> rendezvous >> set >> inherited;
    EXPECT_NE("127.0.0.1:" + port, rendezvous) << "MASTER_PORT must not be Prism's rendezvous";
    EXPECT_EQ(set, "value");
    EXPECT_EQ(inherited, "yes");
    masters.insert(port);
    EXPECT_EQ(countLines(out.output, tag + "<stderr>:oops"), 1) << out.output;
    EXPECT_EQ(countLines(out.output, tag + "<stdout>:unterminated"), 1) << out.output;
  }
  EXPECT_EQ(masters.size(), 1u) << "all ranks share one MASTER_PORT";
}

TEST(PrismRun, BenchRunsAsTheLaunchersWorldAndChecksResults) {
  Outcome out =
      runShell(prismRun() + " -np 3 -- " + prismBench() + " allreduce -b 8 -e 64K -f 2 -c 1");
  ASSERT_EQ(out.status, 0) << out.output;
  // One table, printed by rank 0, listing the three ranks of one communicator.
  EXPECT_EQ(countLines(out.output, "# Out of bounds values : 0 OK"), 1) << out.output;
  EXPECT_EQ(countLines(out.output, "#  Rank "), 3) << out.output;
  // 8 B to 64 KiB by factor 2: 14 sizes, every row checked (#wrong 0 twice per row).
  int rows = 0;
  std::istringstream in(out.output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string field;
    std::vector<std::string> f;
    while (fields >> field) f.push_back(field);
    ASSERT_EQ(f.size(), 13u) << line;
    EXPECT_EQ(f[8], "0") << line;
    EXPECT_EQ(f[12], "0") << line;
    ++rows;
  }
  EXPECT_EQ(rows, 14) << out.output;
}

TEST(PrismRun, FirstFailingRanksStatusIsReturned) {
  Outcome out = runShell(prismRun() +
                         " -np 3 --grace 1 -- sh -c 'if [ \"$PRISM_RANK\" = 2 ]; then exit 5; "
                         "fi; exec sleep 30'");
  EXPECT_EQ(out.status, 5) << out.output;
  EXPECT_NE(out.output.find("rank 2 (pid"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("exited with status 5"), std::string::npos) << out.output;

  out = runShell(prismRun() + " -np 2 -- sh -c 'if [ \"$PRISM_RANK\" = 1 ]; then kill -9 $$; fi'");
  EXPECT_EQ(out.status, 128 + SIGKILL) << out.output;
  EXPECT_NE(out.output.find("rank 1 (pid"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("killed by signal 9"), std::string::npos) << out.output;
}

TEST(PrismRun, BenchWithAMissingRankFailsInsteadOfHanging) {
  Outcome out = runShell("env PRISM_BOOTSTRAP_TIMEOUT_S=3 " + prismRun() +
                         " -np 3 --grace 2 -- sh -c 'if [ \"$PRISM_RANK\" = 1 ]; then exit 3; fi; "
                         "exec " +
                         prismBench() + " allreduce -b 8 -e 1K -c 1'");
  EXPECT_EQ(out.status, 3) << out.output;
  EXPECT_NE(out.output.find("rank 1 (pid"), std::string::npos) << out.output;
}

TEST(PrismRun, AFailedRunLeavesNoProcessBehind) {
  char dir[] = "/tmp/prism-run-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string pidFile = std::string(dir) + "/helper";
  // Rank 0 starts a background helper and fails; rank 1 would run for a minute.
  Outcome out = runShell(prismRun() +
                         " -np 2 --grace 1 -- sh -c 'if [ \"$PRISM_RANK\" = 0 ]; "
                         "then sleep 60 & echo $! > " +
                         pidFile + "; exit 4; fi; exec sleep 60'");
  EXPECT_EQ(out.status, 4) << out.output;
  std::ifstream in(pidFile);
  long helper = 0;
  ASSERT_TRUE(in >> helper) << out.output;
  EXPECT_TRUE(processGone(helper)) << "rank 0's background helper " << helper << " survived";
  unlink(pidFile.c_str());
  rmdir(dir);
  // And a second run right after works normally.
  out = runShell(prismRun() + " -np 2 -- " + prismBench() + " allreduce -b 8 -e 1K -c 1");
  EXPECT_EQ(out.status, 0) << out.output;
  EXPECT_EQ(countLines(out.output, "# Out of bounds values : 0 OK"), 1) << out.output;
}

TEST(PrismRun, SigtermIsForwardedAndReported) {
  // prism-run in the background of a shell, terminated after its ranks have started.
  Outcome out = runShell("sh -c '" + prismRun() +
                         " -np 2 -- sleep 30 & p=$!; sleep 0.5; kill -TERM $p; wait $p; echo "
                         "status=$?'");
  EXPECT_NE(out.output.find("status=143"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("forwarding it to the ranks"), std::string::npos) << out.output;
}

TEST(PrismRun, UsageErrors) {
  Outcome out = runShell(prismRun() + " -np 2");
  EXPECT_EQ(out.status, 2) << out.output;
  EXPECT_NE(out.output.find("no command"), std::string::npos) << out.output;
  out = runShell(prismRun() + " -np 2 --bandwidth 1gbit -- true");
  EXPECT_EQ(out.status, 2) << out.output;
  EXPECT_NE(out.output.find("need --hosts"), std::string::npos) << out.output;
  out = runShell(prismRun() + " -np 1 -- /nonexistent/command");
  EXPECT_EQ(out.status, 127) << out.output;
  EXPECT_NE(out.output.find("cannot run /nonexistent/command"), std::string::npos);
}

}  // namespace
