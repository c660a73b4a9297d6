// prism-run's emulated multi-host fabric: hosts as network namespaces behind a shaped
// bridge. Needs root (CAP_SYS_ADMIN) and iproute2; skips with the reason otherwise.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/harness/shell.h"

#ifndef PRISM_RUN_BIN
#error "tests/CMakeLists.txt defines PRISM_RUN_BIN"
#endif

namespace {

using Outcome = prism::test::ShellOutcome;
using prism::test::namespacesUnavailable;
using prism::test::runShell;

// Lines naming anything prism-run <pid> created: namespaces prism-<pid>-*, links pr<pid>*.
std::string leftovers(long pid) {
  std::string ns = runShell("ip netns list", 10).output;
  std::string links = runShell("ip -o link show", 10).output;
  std::string found;
  std::istringstream nsIn(ns);
  for (std::string line; std::getline(nsIn, line);) {
    if (line.rfind("prism-" + std::to_string(pid) + "-", 0) == 0) found += line + "\n";
  }
  std::istringstream linkIn(links);
  for (std::string line; std::getline(linkIn, line);) {
    if (line.find(": pr" + std::to_string(pid)) != std::string::npos) found += line + "\n";
  }
  return found;
}

// prism-run's pid from the shell that runs it: "pid=N" printed before waiting.
long pidFrom(const std::string& output) {
  size_t at = output.find("pid=");
  return at == std::string::npos ? -1 : std::stol(output.substr(at + 4));
}

// Runs prism-run in the background of a shell so that its pid is known.
Outcome runPrismRun(const std::string& args, long* pid) {
  Outcome out = runShell("sh -c '" + std::string(PRISM_RUN_BIN) + " " + args +
                         " & p=$!; echo pid=$p; wait $p; echo status=$?'");
  *pid = pidFrom(out.output);
  size_t at = out.output.rfind("status=");
  out.status = at == std::string::npos ? -1 : std::stoi(out.output.substr(at + 7));
  return out;
}

TEST(Emulation, RoundRobinAllReduceOnTwoShapedHostsLeavesNothingBehind) {
  if (std::string why = namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  long pid = 0;
  Outcome out =
      runPrismRun("--hosts 2 --ranks-per-host 2 --placement round-robin --bandwidth 1gbit -- " +
                      std::string(PRISM_BENCH_BIN) + " allreduce -b 8 -e 1M -f 4 -c 1",
                  &pid);
  ASSERT_GT(pid, 0) << out.output;
  EXPECT_EQ(leftovers(pid), "");
  ASSERT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("# Out of bounds values : 0 OK"), std::string::npos) << out.output;
}

// A throwaway directory holding one script, removed with the test.
class ScriptFile {
 public:
  explicit ScriptFile(const std::string& body) {
    char dir[] = "/tmp/prism-emulation-XXXXXX";
    if (mkdtemp(dir) != nullptr) dir_ = dir;
    path_ = dir_ + "/rank.sh";
    std::ofstream(path_) << body;
  }
  ~ScriptFile() {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

TEST(Emulation, RanksSeeTheirHostsAddressAndShapedLink) {
  if (std::string why = namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  // Each rank prints its rank, local rank/size, its interface's address and root qdisc.
  ScriptFile script(
      "addr=$(ip -4 -o addr show dev \"$PRISM_SOCKET_IFNAME\" | tr -s ' ' | cut -d' ' -f4)\n"
      "qdisc=$(tc qdisc show dev \"$PRISM_SOCKET_IFNAME\" | cut -d' ' -f2)\n"
      "echo \"R$PRISM_RANK $PRISM_LOCAL_RANK/$PRISM_LOCAL_SIZE $addr $qdisc "
      "$PRISM_RENDEZVOUS $PRISM_INNET_ADDR\"\n");
  long pid = 0;
  Outcome out = runPrismRun(
      "--hosts 3 --ranks-per-host 2 --placement block --bandwidth "
      "100mbit --innet \"sleep 31.25\" -- sh " +
          script.path(),
      &pid);
  ASSERT_EQ(out.status, 0) << out.output;
  // Block placement: ranks 0,1 on host 0 (10.x.0.1), 2,3 on host 1, 4,5 on host 2; the
  // rendezvous is rank 0's host and the in-network service sits on the bridge at .254.
  for (int r = 0; r < 6; ++r) {
    std::string tag = "R" + std::to_string(r) + " " + std::to_string(r % 2) + "/2 10.";
    size_t at = out.output.find(tag);
    ASSERT_NE(at, std::string::npos) << tag << "\n" << out.output;
    std::string line = out.output.substr(at, out.output.find('\n', at) - at);
    std::string host = ".0." + std::to_string(r / 2 + 1) + "/24 tbf ";
    EXPECT_NE(line.find(host), std::string::npos) << line;
    EXPECT_NE(line.find(".0.1:29500 "), std::string::npos) << line;
    EXPECT_NE(line.find(".0.254:29600"), std::string::npos) << line;
  }
  EXPECT_EQ(leftovers(pid), "");
  // The service was stopped with the run. grep -s: a process that exits between the glob
  // and the read is no match (its "No such file" message once failed this check).
  EXPECT_EQ(runShell("grep -slzx '31[.]25' /proc/[0-9]*/cmdline", 10).output.find("/proc/"),
            std::string::npos);
}

TEST(Emulation, RanksGetTheBurstAndTheSharedCoresAsACostProfile) {
  if (std::string why = namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  // The tbf burst lets that many bytes pass at veth speed, and every emulated host runs on
  // this machine's cores: the cost model needs both (perf/RESULTS.md, issue 4).
  // One echo per rank: a single write, so the ranks' lines do not interleave.
  ScriptFile script(
      "p=$(tr -d ' \\n' < \"$PRISM_TUNING_FILE\"); echo \"$p R$PRISM_RANK cores=$(nproc)\"\n");
  long pid = 0;
  Outcome out =
      runPrismRun("--hosts 2 --ranks-per-host 1 --bandwidth 1gbit -- sh " + script.path(), &pid);
  ASSERT_EQ(out.status, 0) << out.output;
  const std::string cores = runShell("nproc", 10).output;
  // 10 ms at 1 Gbit/s = 1,250,000 B (more than the 256 KiB floor).
  const std::string profile =
      "{\"network_burst_bytes\":1250000,\"shared_cores\":" + cores.substr(0, cores.find('\n')) +
      "}";
  for (int r = 0; r < 2; ++r) {
    const std::string line = profile + " R" + std::to_string(r) + " cores=";
    EXPECT_NE(out.output.find(line), std::string::npos) << line << "\n" << out.output;
  }
  EXPECT_EQ(leftovers(pid), "");
}

TEST(Emulation, AFailingCommandStillCleansUp) {
  if (std::string why = namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  long pid = 0;
  Outcome out = runPrismRun("--hosts 2 --grace 1 -- sh -c \"exit 9\"", &pid);
  EXPECT_EQ(out.status, 9) << out.output;
  ASSERT_GT(pid, 0);
  EXPECT_EQ(leftovers(pid), "");
  // A setup failure (an unknown qdisc option) says why and also leaves nothing.
  out = runPrismRun("--hosts 2 --delay 50us -- true", &pid);
  if (out.status != 0) {
    EXPECT_NE(out.output.find("setup failed"), std::string::npos) << out.output;
  }
  EXPECT_EQ(leftovers(pid), "");
}

TEST(Emulation, SigintDuringARunCleansUp) {
  if (std::string why = namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  Outcome out = runShell("sh -c '" + std::string(PRISM_RUN_BIN) +
                         " --hosts 2 -- sleep 30 & p=$!; echo pid=$p; sleep 1; kill -INT $p; "
                         "wait $p; echo status=$?'");
  long pid = pidFrom(out.output);
  ASSERT_GT(pid, 0) << out.output;
  EXPECT_NE(out.output.find("status=130"), std::string::npos) << out.output;
  EXPECT_EQ(leftovers(pid), "");
}

}  // namespace
