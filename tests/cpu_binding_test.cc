// Ranks bound to cores (topology/cpu_binding.h): the policy on synthetic machines, then the
// real prism-run and prism-bench, whose ranks' CPUs are read back from the kernel: one
// distinct core each when bound, untouched under --bind-to none, oversubscription, or an
// outside launcher's binding (taskset).
#include "topology/cpu_binding.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/harness/shell.h"

#ifndef PRISM_RUN_BIN
#error "tests/CMakeLists.txt defines PRISM_RUN_BIN"
#endif

namespace {

using namespace prism::topo;
using Cpus = std::vector<int>;
using prism::test::runShell;
using Outcome = prism::test::ShellOutcome;

/// `cores` cores on `numas` NUMA nodes (consecutive cores per node) with `threads`
/// hardware threads each, numbered as Linux numbers them on x86: core c has CPUs c,
/// c + cores, ...
CpuLayout machine(int cores, int numas, int threads) {
  CpuLayout layout;
  for (int c = 0; c < cores; ++c) {
    CoreCpus core;
    for (int t = 0; t < threads; ++t) core.cpus.push_back(c + t * cores);
    core.numa = c / (cores / numas);
    layout.cores.push_back(core);
  }
  return layout;
}

TEST(CpuBindingPolicy, DefaultIsCoreWhenRanksFitTheCores) {
  EXPECT_EQ(defaultBindTo(1, 1, 1), BindTo::Core);
  EXPECT_EQ(defaultBindTo(2, 1, 2), BindTo::Core);
  EXPECT_EQ(defaultBindTo(3, 1, 2), BindTo::None);
  EXPECT_EQ(defaultBindTo(8, 1, 64), BindTo::Core);
  EXPECT_EQ(defaultBindTo(2, 2, 4), BindTo::Core) << "two processes of two thread ranks";
  EXPECT_EQ(defaultBindTo(2, 2, 3), BindTo::None);
  EXPECT_EQ(defaultBindTo(0, 1, 2), BindTo::None);
  EXPECT_EQ(defaultBindTo(2, 1, 0), BindTo::None);
}

TEST(CpuBindingPolicy, CoreMappingGivesDistinctCoresThenWrapsRoundRobin) {
  const CpuLayout layout = machine(4, 1, 2);  // core c = CPUs {c, c + 4}
  auto plan = planBinding(layout, 4, 1, BindTo::Core, MapBy::Core);
  ASSERT_EQ(plan.size(), 4u);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(plan[r], (Cpus{r, r + 4})) << "rank " << r;
  // More ranks than cores (an explicit --bind-to core): round robin, evenly shared.
  plan = planBinding(layout, 6, 1, BindTo::Core, MapBy::Core);
  ASSERT_EQ(plan.size(), 6u);
  EXPECT_EQ(plan[4], plan[0]);
  EXPECT_EQ(plan[5], plan[1]);
  // Every rank count from 1 to 13 on 5 cores: rank r is on core r % 5.
  const CpuLayout five = machine(5, 1, 1);
  for (int ranks = 1; ranks <= 13; ++ranks) {
    plan = planBinding(five, ranks, 1, BindTo::Core, MapBy::Core);
    for (int r = 0; r < ranks; ++r) EXPECT_EQ(plan[r], (Cpus{r % 5})) << ranks << " ranks";
  }
}

TEST(CpuBindingPolicy, WidthTakesConsecutiveCoresPerRank) {
  const CpuLayout layout = machine(4, 1, 1);
  auto plan = planBinding(layout, 2, 2, BindTo::Core, MapBy::Core);
  EXPECT_EQ(plan[0], (Cpus{0, 1}));
  EXPECT_EQ(plan[1], (Cpus{2, 3}));
}

TEST(CpuBindingPolicy, NumaMappingAlternatesNodesAndNumaBindingTakesTheNode) {
  const CpuLayout layout = machine(8, 2, 1);  // node 0: cores 0-3, node 1: cores 4-7
  auto plan = planBinding(layout, 4, 1, BindTo::Core, MapBy::Numa);
  EXPECT_EQ(plan[0], (Cpus{0}));
  EXPECT_EQ(plan[1], (Cpus{4}));
  EXPECT_EQ(plan[2], (Cpus{1}));
  EXPECT_EQ(plan[3], (Cpus{5}));
  plan = planBinding(layout, 3, 1, BindTo::Numa, MapBy::Numa);
  EXPECT_EQ(plan[0], (Cpus{0, 1, 2, 3}));
  EXPECT_EQ(plan[1], (Cpus{4, 5, 6, 7}));
  EXPECT_EQ(plan[2], (Cpus{0, 1, 2, 3}));
  // Mapped by core, bound to the NUMA node of the rank's core.
  plan = planBinding(layout, 5, 1, BindTo::Numa, MapBy::Core);
  EXPECT_EQ(plan[3], (Cpus{0, 1, 2, 3}));
  EXPECT_EQ(plan[4], (Cpus{4, 5, 6, 7}));
}

TEST(CpuBindingPolicy, NoneAndEmptyMachinesBindNothing) {
  for (const auto& plan : {planBinding(machine(4, 1, 1), 3, 1, BindTo::None, MapBy::Core),
                           planBinding(CpuLayout{}, 3, 1, BindTo::Core, MapBy::Core)}) {
    ASSERT_EQ(plan.size(), 3u);
    for (const Cpus& cpus : plan) EXPECT_TRUE(cpus.empty());
  }
}

TEST(CpuBindingPolicy, DecisionKeepsAnOutsideBindingUnlessAskedToBind) {
  const CpuLayout two = machine(2, 1, 1);
  BindingDecision d = decideBinding(std::nullopt, MapBy::Core, 2, 1, two, /*prePinned=*/true);
  EXPECT_EQ(d.bindTo, BindTo::None);
  EXPECT_NE(d.why.find("keeps"), std::string::npos) << d.why;
  ASSERT_EQ(d.cpus.size(), 2u);
  EXPECT_TRUE(d.cpus[0].empty() && d.cpus[1].empty());
  // Asked explicitly, the ranks are bound within the CPUs the launcher was given.
  d = decideBinding(BindTo::Core, MapBy::Core, 2, 1, two, true);
  EXPECT_EQ(d.cpus[0], (Cpus{0}));
  EXPECT_EQ(d.cpus[1], (Cpus{1}));
  d = decideBinding(std::nullopt, MapBy::Core, 2, 1, two, false);
  EXPECT_EQ(d.bindTo, BindTo::Core);
  d = decideBinding(std::nullopt, MapBy::Core, 3, 1, two, false);
  EXPECT_EQ(d.bindTo, BindTo::None) << "oversubscribed";
  d = decideBinding(BindTo::None, MapBy::Core, 1, 1, two, false);
  EXPECT_EQ(d.bindTo, BindTo::None);
  EXPECT_TRUE(d.cpus[0].empty());
}

TEST(CpuBindingPolicy, CpuListsFormatAndParseLikeLinux) {
  EXPECT_EQ(formatCpuList({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
  EXPECT_EQ(formatCpuList({5}), "5");
  EXPECT_EQ(formatCpuList({}), "");
  EXPECT_EQ(parseCpuList("0-3,8,10-11"), (Cpus{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parseCpuList("3,1,1"), (Cpus{1, 3}));
  for (const char* bad : {"", "a", "3-1", "1,,2", "1,", "-1", "1-", "0-99999"}) {
    EXPECT_FALSE(parseCpuList(bad).has_value()) << bad;
  }
  for (const char* name : {"core", "numa", "none"}) {
    ASSERT_TRUE(parseBindTo(name).has_value());
    EXPECT_STREQ(bindToName(*parseBindTo(name)), name);
  }
  EXPECT_FALSE(parseBindTo("socket").has_value());
  EXPECT_FALSE(parseMapBy("none").has_value());
}

// ---- The real launchers on this machine ----

/// Prints each rank's CPUs as the kernel has them (Cpus_allowed_list is the
/// sched_getaffinity mask) and the list prism-run passed.
const char* kShowCpus =
    "sh -c 'echo \"R $PRISM_RANK $(awk \"/Cpus_allowed_list/ {print \\$2}\" /proc/self/status) "
    "L${PRISM_CPU_LIST}\"'";

/// rank -> the CPU list it ran on, from kShowCpus lines.
std::map<int, std::string> rankCpus(const std::string& output) {
  std::map<int, std::string> cpus;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string tag, list;
    int rank = -1;
    if (words >> tag >> rank >> list && tag == "R") cpus[rank] = list;
  }
  return cpus;
}

/// The CPUs of each core this test may use, as CPU lists.
std::set<std::string> coreLists() {
  std::set<std::string> lists;
  for (const CoreCpus& core : discoverCpuLayout(currentCpus(BindScope::Process)).cores) {
    lists.insert(formatCpuList(core.cpus));
  }
  return lists;
}

class LauncherBinding : public ::testing::Test {
 protected:
  void SetUp() override {
    mine_ = formatCpuList(currentCpus(BindScope::Process));
    if (narrowerThan(currentCpus(BindScope::Process), allowedCpus())) {
      GTEST_SKIP() << "this test runs pinned (cpus " << mine_ << "): its launchers keep that";
    }
    if (coreLists().size() < 2) GTEST_SKIP() << "needs two cores";
  }
  std::string mine_;  // the CPUs this test (and so an unbound rank) runs on
};

TEST_F(LauncherBinding, PrismRunBindsTwoRanksToDistinctCores) {
  Outcome out = runShell(std::string(PRISM_RUN_BIN) + " -np 2 -- " + kShowCpus);
  ASSERT_EQ(out.status, 0) << out.output;
  auto cpus = rankCpus(out.output);
  ASSERT_EQ(cpus.size(), 2u) << out.output;
  const std::set<std::string> cores = coreLists();
  EXPECT_EQ(cores.count(cpus[0]), 1u) << "rank 0 is on one core: " << out.output;
  EXPECT_EQ(cores.count(cpus[1]), 1u) << "rank 1 is on one core: " << out.output;
  EXPECT_NE(cpus[0], cpus[1]) << out.output;
  EXPECT_NE(out.output.find("L" + cpus[0]), std::string::npos) << "PRISM_CPU_LIST: " << out.output;
}

TEST_F(LauncherBinding, PrismRunLeavesRanksAloneWhenToldOrOversubscribed) {
  const std::string more = std::to_string(coreLists().size() + 1);
  for (const std::string& args : {std::string("-np 2 --bind-to none"), "-np " + more}) {
    Outcome out = runShell(std::string(PRISM_RUN_BIN) + " " + args + " -- " + kShowCpus);
    ASSERT_EQ(out.status, 0) << args << ": " << out.output;
    auto cpus = rankCpus(out.output);
    ASSERT_FALSE(cpus.empty()) << out.output;
    for (const auto& [rank, list] : cpus) EXPECT_EQ(list, mine_) << args << ": rank " << rank;
    EXPECT_FALSE(std::regex_search(out.output, std::regex(" L[0-9]")))
        << "no PRISM_CPU_LIST: " << out.output;
  }
}

TEST_F(LauncherBinding, PrismRunKeepsAnOutsideLaunchersBinding) {
  const std::string first = std::to_string(currentCpus(BindScope::Process).front());
  Outcome out = runShell("env NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT taskset -c " + first + " " +
                         PRISM_RUN_BIN + " -np 2 -- " + kShowCpus);
  ASSERT_EQ(out.status, 0) << out.output;
  auto cpus = rankCpus(out.output);
  ASSERT_EQ(cpus.size(), 2u) << out.output;
  EXPECT_EQ(cpus[0], first) << out.output;
  EXPECT_EQ(cpus[1], first) << out.output;
  EXPECT_NE(out.output.find("keeps the binding it was started with"), std::string::npos)
      << out.output;
}

/// "who index" -> CPU list from prism-bench's INFO lines ("rank process 1 on cpus 1: ...",
/// "thread rank 0 of 2 on cpus 0: ...").
std::map<std::string, std::string> loggedCpus(const std::string& output) {
  std::map<std::string, std::string> cpus;
  static const std::regex line(R"(((?:rank process|thread rank) \d+)(?: of \d+)? on cpus (\S+):)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line);
       it != std::sregex_iterator(); ++it) {
    cpus[(*it)[1]] = (*it)[2];
  }
  return cpus;
}

TEST_F(LauncherBinding, BenchProcessAndThreadRanksBindToDistinctCores) {
  const std::string bench = std::string(PRISM_BENCH_BIN) + " allreduce -b 8 -e 8 -n 1 -w 0";
  const std::string info = "env NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT ";
  const std::set<std::string> cores = coreLists();
  struct Case {
    std::string command;
    std::vector<std::string> ranks;  // the INFO lines' subjects, one per rank
  };
  const Case cases[] = {
      {info + bench + " -np 2", {"rank process 0", "rank process 1"}},
      {info + bench + " -t 2", {"thread rank 0", "thread rank 1"}},
      {info + PRISM_RUN_BIN + " -np 2 -- " + bench, {"rank process 0", "rank process 1"}},
  };
  for (const Case& c : cases) {
    Outcome out = runShell(c.command);
    ASSERT_EQ(out.status, 0) << c.command << ": " << out.output;
    auto cpus = loggedCpus(out.output);
    std::set<std::string> distinct;
    for (const std::string& who : c.ranks) {
      ASSERT_EQ(cpus.count(who), 1u) << c.command << ": no line for " << who << ": " << out.output;
      EXPECT_EQ(cores.count(cpus[who]), 1u) << c.command << ": " << who << " on " << cpus[who];
      distinct.insert(cpus[who]);
    }
    EXPECT_EQ(distinct.size(), c.ranks.size()) << c.command << ": " << out.output;
  }
  // --bind-to none: every rank on all of this test's CPUs.
  Outcome out = runShell(info + bench + " -np 2 --bind-to none");
  ASSERT_EQ(out.status, 0) << out.output;
  for (const auto& [who, list] : loggedCpus(out.output)) EXPECT_EQ(list, mine_) << who;
  EXPECT_EQ(loggedCpus(out.output).size(), 2u) << out.output;
}

}  // namespace
