// Schedule generators, the symbolic verifier that proves them, and the selector.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "algorithms/fabric.h"
#include "algorithms/generators.h"
#include "algorithms/registry.h"
#include "algorithms/select.h"
#include "algorithms/simulate.h"
#include "algorithms/verifier.h"
#include "tests/harness/handmade_schedule.h"

namespace prism {
namespace {

constexpr int kMaxRanks = 64;
constexpr Collective kAllCollectives[] = {
    Collective::AllReduce,     Collective::Broadcast, Collective::Reduce, Collective::AllGather,
    Collective::ReduceScatter, Collective::AllToAll,  Collective::Gather, Collective::Scatter,
};

bool rooted(Collective c) {
  return c == Collective::Broadcast || c == Collective::Reduce || c == Collective::Gather ||
         c == Collective::Scatter;
}

/// Every root for small teams; the edges and the middle for large ones.
std::vector<int> rootsFor(Collective c, int n) {
  if (!rooted(c)) return {0};
  std::vector<int> roots;
  if (n <= 8) {
    for (int r = 0; r < n; ++r) roots.push_back(r);
    return roots;
  }
  return {0, 1, n / 2, n - 1};
}

// --- The generators, proved for every team size, root and buffer mode. ---

class EveryGenerator : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryGenerator, VerifiesForEveryRankCountRootAndMode) {
  const AlgorithmInfo* info = findAlgorithm(GetParam());
  ASSERT_NE(info, nullptr);
  int proved = 0;
  for (Collective c : kAllCollectives) {
    if (!info->supports(c)) continue;
    for (int n = 1; n <= kMaxRanks; ++n) {
      for (int root : rootsFor(c, n)) {
        const Schedule s = info->generate({c, n, root});
        ASSERT_EQ(s.collective, c);
        ASSERT_EQ(s.nranks, n);
        ASSERT_EQ(s.algorithm, info->name);
        for (bool inPlace : {false, true}) {
          const VerifyResult result = verifySchedule(s, inPlace);
          ASSERT_TRUE(result.ok) << result.error;
          ++proved;
        }
      }
    }
  }
  EXPECT_GT(proved, 0);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, EveryGenerator,
                         ::testing::Values("ring", "recursive_doubling", "tree", "pairwise",
                                           "direct", "double_binary_tree", "rabenseifner", "bruck",
                                           "pat", "multi_ring", "hierarchical"));

TEST(Registry, FindsByNameIgnoringCase) {
  ASSERT_EQ(allAlgorithms().size(), 11u);
  for (const AlgorithmInfo& info : allAlgorithms()) EXPECT_EQ(findAlgorithm(info.name), &info);
  EXPECT_EQ(findAlgorithm("RING"), findAlgorithm("ring"));
  EXPECT_EQ(findAlgorithm("Tree"), findAlgorithm("tree"));
  EXPECT_EQ(findAlgorithm("nvls"), nullptr);
  EXPECT_EQ(findAlgorithm(""), nullptr);
}

TEST(Registry, ChannelsAreTheSchedulesIndependentPipelines) {
  // multi_ring: two rings in opposite directions; double_binary_tree: two trees.
  for (const AlgorithmInfo& info : allAlgorithms()) {
    const std::string name = info.name;
    EXPECT_EQ(info.channels, name == "multi_ring" || name == "double_binary_tree" ? 2 : 1) << name;
  }
}

TEST(Registry, EveryCollectiveHasAGenerator) {
  for (Collective c : kAllCollectives) {
    int supporting = 0;
    for (const AlgorithmInfo& info : allAlgorithms()) supporting += info.supports(c);
    EXPECT_GT(supporting, 0) << collectiveName(c);
  }
}

TEST(Registry, GeneratorsRejectWhatTheyDoNotSupport) {
  for (const AlgorithmInfo& info : allAlgorithms()) {
    for (Collective c : kAllCollectives) {
      if (!info.supports(c)) {
        EXPECT_ANY_THROW(info.generate({c, 4, 0})) << info.name;
      }
    }
  }
  EXPECT_ANY_THROW(findAlgorithm("ring")->generate({Collective::Broadcast, 4, 4}));
  EXPECT_ANY_THROW(findAlgorithm("ring")->generate({Collective::AllReduce, 0, 0}));
}

TEST(Schedule, NamesAndStepProperties) {
  EXPECT_STREQ(collectiveName(Collective::ReduceScatter), "ReduceScatter");
  EXPECT_STREQ(stepKindName(StepKind::RecvReduceSend), "RecvReduceSend");
  EXPECT_TRUE(isReduction(Collective::ReduceScatter));
  EXPECT_FALSE(isReduction(Collective::AllGather));
  EXPECT_TRUE(stepSends(StepKind::SendRecvReduce));
  EXPECT_FALSE(stepSends(StepKind::RecvReduce));
  EXPECT_TRUE(stepReceives(StepKind::RecvSend));
  EXPECT_FALSE(stepReceives(StepKind::Send));
  EXPECT_FALSE(stepReceives(StepKind::Copy));
  EXPECT_TRUE(stepReduces(StepKind::RecvReduceSend));
  EXPECT_FALSE(stepReduces(StepKind::SendRecv));
}

TEST(Shapes, StepCountsMatchTheAlgorithms) {
  for (int n : {2, 3, 5, 8, 11, 13, 64}) {
    const Schedule ring = findAlgorithm("ring")->generate({Collective::AllReduce, n, 0});
    for (const auto& steps : ring.steps) EXPECT_EQ(steps.size(), static_cast<size_t>(2 * n - 1));
    const Schedule rd =
        findAlgorithm("recursive_doubling")->generate({Collective::AllReduce, n, 0});
    int log2 = 0;
    while ((2 << log2) <= n) ++log2;
    // Core ranks that absorb a folded rank do two extra steps.
    for (const auto& steps : rd.steps) EXPECT_LE(steps.size(), static_cast<size_t>(log2 + 2));
  }
  // The spider Reduce: the root combines about sqrt(2n) chains.
  const Schedule spider = findAlgorithm("tree")->generate({Collective::Reduce, 64, 5});
  EXPECT_EQ(spider.steps[5].size(), 11u);  // 1 + 2 + ... + 11 >= 63
}

/// Runs an out-of-place AllReduce schedule on doubles (sum, unbounded FIFOs) and returns
/// every rank's output blocks. Floating-point sums depend on the order of additions, so
/// equal outputs mean every rank computed (or received) the very same sums.
std::vector<std::vector<double>> runAllReduceOnDoubles(const Schedule& s) {
  const int n = s.nranks;
  std::vector<std::vector<double>> input(n), output(n, std::vector<double>(s.outputBlocks));
  for (int r = 0; r < n; ++r) {
    for (int b = 0; b < s.inputBlocks; ++b) input[r].push_back(1.0 / (3 + r) + 1e7 * (r % 3) + b);
  }
  std::vector<std::vector<double>> queue(n * n);  // [from * n + to], read from the front
  std::vector<size_t> pc(n, 0), head(n * n, 0);
  std::vector<bool> sent(n, false);  // the send half of the current step ran
  auto value = [&](int r, BlockRef ref) {
    return ref.buffer == BufferId::Input ? input[r][ref.block] : output[r][ref.block];
  };
  bool progress = true;
  while (progress) {
    progress = false;
    for (int r = 0; r < n; ++r) {
      while (pc[r] < s.steps[r].size()) {
        const Step& step = s.steps[r][pc[r]];
        const int inbox = step.recvPeer * n + r;
        const bool sendsFirst = step.kind == StepKind::Send || step.kind == StepKind::SendRecv ||
                                step.kind == StepKind::SendRecvReduce;
        if (sendsFirst && !sent[r]) {
          queue[r * n + step.sendPeer].push_back(value(r, step.src));
          sent[r] = true;
          progress = true;
        }
        if (stepReceives(step.kind) && head[inbox] == queue[inbox].size()) break;
        sent[r] = false;
        double v = step.kind == StepKind::Recv || step.kind == StepKind::RecvSend
                       ? 0.0
                       : value(r, step.src);
        if (stepReceives(step.kind)) {
          const double incoming = queue[inbox][head[inbox]++];
          v = stepReduces(step.kind) ? v + incoming : incoming;
        }
        if (step.kind == StepKind::RecvSend || step.kind == StepKind::RecvReduceSend) {
          queue[r * n + step.sendPeer].push_back(v);
        }
        if (step.kind != StepKind::Send && step.dst.buffer == BufferId::Output) {
          output[r][step.dst.block] = v;
        }
        ++pc[r];
        progress = true;
      }
    }
  }
  return output;
}

/// Groupings of n ranks for the hierarchical generator: none, one group, n groups of one,
/// every h contiguous groups (equal where h divides n, else sizes differing by one),
/// round-robin placements (group r % h, with ids that are neither small nor contiguous),
/// and lopsided ones (one group of h, the rest split in two).
std::vector<std::vector<int>> groupingsOf(int n) {
  std::vector<std::vector<int>> all = {{}, std::vector<int>(n, 0)};
  for (int h = 1; h <= n; ++h) {
    std::vector<int> contiguous(n), roundRobin(n), lopsided(n);
    for (int r = 0; r < n; ++r) {
      contiguous[r] = r * h / n;
      roundRobin[r] = (r % h) * 7 + 3;
      lopsided[r] = r < h ? 0 : 1 + r % 2;
    }
    all.insert(all.end(), {contiguous, roundRobin, lopsided});
  }
  return all;
}

TEST(AllReduceResults, AreBitIdenticalOnEveryRank) {
  for (const char* name : {"ring", "recursive_doubling", "double_binary_tree", "rabenseifner",
                           "multi_ring", "hierarchical"}) {
    for (int n = 1; n <= kMaxRanks; ++n) {
      const auto outputs =
          runAllReduceOnDoubles(findAlgorithm(name)->generate({Collective::AllReduce, n, 0}));
      for (int r = 1; r < n; ++r) ASSERT_EQ(outputs[r], outputs[0]) << name << " n=" << n;
    }
  }
  for (int n = 1; n <= 16; ++n) {
    for (const std::vector<int>& groups : groupingsOf(n)) {
      const auto outputs = runAllReduceOnDoubles(
          findAlgorithm("hierarchical")->generate({Collective::AllReduce, n, 0, groups}));
      for (int r = 1; r < n; ++r) ASSERT_EQ(outputs[r], outputs[0]) << "hierarchical n=" << n;
    }
  }
}

// --- Hierarchical: composed from ring sub-schedules over topology groups. ---

TEST(Hierarchical, VerifiesForManyGroupings) {
  const AlgorithmInfo& info = *findAlgorithm("hierarchical");
  // The named cases of the design: 2x2, 2x3, 3x2, 4x2 hosts x ranks, round robin, unequal.
  const std::vector<std::vector<int>> named = {
      {0, 0, 1, 1},       {0, 0, 0, 1, 1, 1},    {0, 0, 1, 1, 2, 2}, {0, 0, 1, 1, 2, 2, 3, 3},
      {0, 1, 0, 1, 0, 1}, {0, 1, 2, 0, 1, 2, 0}, {5, 5, 5, 9},       {2, 0, 0, 1, 1, 1, 1},
  };
  int proved = 0;
  for (int n = 1; n <= 24; ++n) {
    std::vector<std::vector<int>> groupings = groupingsOf(n);
    for (const auto& g : named) {
      if (static_cast<int>(g.size()) == n) groupings.push_back(g);
    }
    for (Collective c : kAllCollectives) {
      if (!info.supports(c)) continue;
      for (int root : rootsFor(c, n)) {
        for (const std::vector<int>& groups : groupings) {
          const ScheduleRequest request{c, n, root, groups};
          ASSERT_TRUE(info.applies(request));
          const Schedule s = info.generate(request);
          for (bool inPlace : {false, true}) {
            const VerifyResult result = verifySchedule(s, inPlace);
            ASSERT_TRUE(result.ok) << result.error << " (" << groups.size() << " group ids)";
            ++proved;
          }
        }
      }
    }
  }
  EXPECT_GT(proved, 10000);
}

TEST(Hierarchical, RejectsAGroupingOfTheWrongSize) {
  const AlgorithmInfo& info = *findAlgorithm("hierarchical");
  const ScheduleRequest request{Collective::AllReduce, 4, 0, {0, 0, 1}};
  EXPECT_FALSE(info.applies(request));
  EXPECT_ANY_THROW(info.generate(request));
  EXPECT_TRUE(info.applies({Collective::AllReduce, 4, 0}));
}

TEST(Hierarchical, KeepsTrafficInsideHostsWhereRanksAreRoundRobin) {
  // 4 hosts x 4 ranks, rank r on host r % 4, hosts joined by a slow network. A flat ring
  // crosses the network on every hop; hierarchical moves only the inter-group stage there.
  const int n = 16;
  std::vector<int> hostOf(n);
  for (int r = 0; r < n; ++r) hostOf[r] = r % 4;
  const FabricModel fabric = switchedFabric(hostOf, 1e3, 5, CostProfile{});
  const double bytes = 64 << 20;
  for (Collective c : {Collective::AllReduce, Collective::AllGather}) {
    const Schedule ring = findAlgorithm("ring")->generate({c, n, 0});
    const Schedule hier = findAlgorithm("hierarchical")->generate({c, n, 0, hostOf});
    const Prediction flat = simulateSchedule(ring, bytes / ring.outputBlocks, fabric);
    const Prediction grouped = simulateSchedule(hier, bytes / hier.outputBlocks, fabric);
    ASSERT_TRUE(flat.completes && grouped.completes);
    EXPECT_LT(grouped.bandwidthMicros, flat.bandwidthMicros) << collectiveName(c);
  }
}

// --- The double binary tree's peer math, for every team size. ---

TEST(DoubleBinaryTree, TreesAreBinarySpanningAndConsistent) {
  for (int n = 1; n <= 257; ++n) {
    int depthBound = 1;
    while ((1 << depthBound) <= n) ++depthBound;
    // -1: the AllReduce layout; otherwise both trees hang from that root (Broadcast).
    for (int root : {-1, 0, n / 2, n - 1}) {
      for (int tree = 0; tree < 2; ++tree) {
        int roots = 0;
        for (int r = 0; r < n; ++r) {
          ASSERT_EQ(dbt::rankAt(dbt::positionOf(r, tree, n, root), tree, n, root), r);
          const std::vector<int> kids = dbt::children(r, tree, n, root);
          ASSERT_LE(kids.size(), 2u);
          for (int k : kids) ASSERT_EQ(dbt::parent(k, tree, n, root), r) << "n=" << n;
          const int parent = dbt::parent(r, tree, n, root);
          if (parent < 0) {
            ++roots;
            if (root >= 0) {
              ASSERT_EQ(r, root) << "n=" << n;
            }
            continue;
          }
          const std::vector<int> siblings = dbt::children(parent, tree, n, root);
          ASSERT_NE(std::find(siblings.begin(), siblings.end(), r), siblings.end()) << n;
          // Every rank reaches the root in at most log2(n)+1 hops: no cycles, one tree.
          int hops = 0;
          for (int v = r; dbt::parent(v, tree, n, root) >= 0; v = dbt::parent(v, tree, n, root)) {
            ASSERT_LE(++hops, depthBound) << "n=" << n << " rank " << r;
          }
        }
        ASSERT_EQ(roots, 1) << "n=" << n << " tree " << tree << " root " << root;
      }
    }
  }
}

TEST(DoubleBinaryTree, LeavesOfOneTreeAreInteriorInTheOther) {
  for (int n = 2; n <= 257; ++n) {
    int leavesInBoth = 0;
    for (int r = 0; r < n; ++r) {
      const bool leaf0 = dbt::children(r, 0, n).empty();
      const bool leaf1 = dbt::children(r, 1, n).empty();
      leavesInBoth += leaf0 && leaf1;
    }
    // Even n: complementary; odd n: the shift leaves rank 0 alone a leaf in both.
    EXPECT_EQ(leavesInBoth, n % 2 == 0 ? 0 : 1) << "n=" << n;
  }
}

/// The longest chain of messages in `s` that depend on one another: the simulator with free
/// steps, free bandwidth and one microsecond per hop (every rank on its own host, so every
/// message crosses an uplink and a downlink: two links per hop).
double messageDepth(const Schedule& s) {
  CostProfile free;
  free.stepMicros = 0;
  free.networkStepMicros = 0;
  std::vector<int> ownHost(s.nranks);
  for (int r = 0; r < s.nranks; ++r) ownHost[r] = r;
  const Prediction p = simulateSchedule(s, 0, switchedFabric(ownHost, 1, 0.5, free));
  return p.completes ? p.latencyMicros : -1;
}

TEST(Shapes, LatencyAlgorithmsShortenTheChainOfMessages) {
  // The flow control model lets a rank run only two messages ahead on a link, so a level
  // that moves c blocks to one peer still adds about c/2 hops: Bruck and PAT AllGather
  // need about n/2 + log2(n) hops, the two-way ring n/2, the ring n-1.
  for (int n : {2, 3, 5, 8, 13, 33, 64}) {
    int log2 = 0;
    while ((1 << log2) < n) ++log2;  // ceil(log2 n)
    auto depth = [&](const char* name, Collective c) {
      return messageDepth(findAlgorithm(name)->generate({c, n, 0}));
    };
    const double ringGather = depth("ring", Collective::AllGather);
    EXPECT_EQ(ringGather, n - 1) << n;
    EXPECT_EQ(depth("multi_ring", Collective::AllGather), n / 2) << n;
    EXPECT_EQ(depth("multi_ring", Collective::ReduceScatter), n / 2) << n;
    for (const char* name : {"bruck", "pat"}) {
      const double d = depth(name, Collective::AllGather);
      EXPECT_LE(d, (n + 1) / 2 + log2) << name << " n=" << n;
      EXPECT_LE(d, ringGather) << name << " n=" << n;
      if (n >= 5) {
        EXPECT_LT(d, ringGather) << name << " n=" << n;
      }
    }
    // PAT ReduceScatter is its AllGather backwards: the same chain of messages.
    const double patScatter = depth("pat", Collective::ReduceScatter);
    EXPECT_EQ(patScatter, depth("pat", Collective::AllGather)) << n;
    EXPECT_LE(patScatter, depth("ring", Collective::ReduceScatter)) << n;
    if (n >= 5) {
      EXPECT_LT(patScatter, depth("ring", Collective::ReduceScatter)) << n;
    }
    const double ringReduce = depth("ring", Collective::AllReduce);
    EXPECT_LE(depth("rabenseifner", Collective::AllReduce), ringReduce) << n;
    if (n >= 5) {
      EXPECT_LT(depth("rabenseifner", Collective::AllReduce), ringReduce) << n;
    }
    // Two trees of depth <= log2(n)+1, their chunks pipelined up, then down.
    EXPECT_LE(depth("double_binary_tree", Collective::AllReduce), 3 * (log2 + 1)) << n;
  }
}

// --- Every schedule runs through the simulator (selection and prism-bench use it). ---

TEST(Simulation, CompletesForEveryGenerator) {
  for (const AlgorithmInfo& info : allAlgorithms()) {
    for (Collective c : kAllCollectives) {
      if (!info.supports(c)) continue;
      for (int n : {1, 2, 3, 5, 8, 13, 64}) {
        const Schedule s = info.generate({c, n, rootsFor(c, n).back()});
        const Prediction p = simulateSchedule(s, 4096, sharedMemoryFabric(n, CostProfile{}));
        EXPECT_TRUE(p.completes) << info.name << " " << collectiveName(c) << " n=" << n;
        EXPECT_TRUE(std::isfinite(p.micros)) << info.name << " " << collectiveName(c);
      }
    }
  }
}

// --- The verifier must reject broken schedules. ---

using test::in0;
using test::in1;
using test::make;
using test::out0;
using test::out1;
using test::twoRanks;
using test::wireRef;

/// A correct 2-rank AllReduce the negative tests break one way each.
Schedule exchangeAllReduce() {
  Schedule s = twoRanks(Collective::AllReduce, 1, 1);
  for (int r = 0; r < 2; ++r) {
    s.steps[r].push_back(make(StepKind::SendRecvReduce, 1 - r, 1 - r, in0, out0, true));
  }
  return s;
}

void expectRejected(const Schedule& s, const std::string& needle, bool inPlace = false) {
  const VerifyResult result = verifySchedule(s, inPlace);
  EXPECT_FALSE(result.ok) << "accepted a broken schedule; expected: " << needle;
  EXPECT_NE(result.error.find(needle), std::string::npos) << result.error;
}

TEST(VerifierRejects, NothingWhenTheScheduleIsRight) {
  EXPECT_TRUE(verifySchedule(exchangeAllReduce(), false).ok);
  EXPECT_TRUE(verifySchedule(exchangeAllReduce(), true).ok);
}

// Each rule of the verifier's layout and step checks, broken alone in a schedule that is
// otherwise correct, so deleting any one rule makes exactly its case pass unnoticed.
TEST(VerifierRejects, EveryLayoutRule) {
  Schedule noRanks = exchangeAllReduce();
  noRanks.nranks = 0;
  expectRejected(noRanks, "nranks must be at least 1");

  Schedule negativeAggregators = exchangeAllReduce();
  negativeAggregators.aggregators = -1;
  expectRejected(negativeAggregators, "aggregators must not be negative");

  Schedule missingList = exchangeAllReduce();
  missingList.steps.pop_back();
  expectRejected(missingList, "one step list per rank and aggregator required");

  Schedule badRoot = findAlgorithm("ring")->generate({Collective::Broadcast, 2, 0});
  ASSERT_TRUE(verifySchedule(badRoot, false).ok);
  badRoot.root = 2;
  expectRejected(badRoot, "root out of range");

  Schedule noBlocks = exchangeAllReduce();
  noBlocks.inputBlocks = 0;
  expectRejected(noBlocks, "block counts must be positive");

  Schedule unaliased = exchangeAllReduce();
  unaliased.outputBlocks = 2;
  expectRejected(unaliased, "input and output must have the same block count");

  Schedule wrongShares = findAlgorithm("ring")->generate({Collective::AllGather, 2, 0});
  ASSERT_TRUE(verifySchedule(wrongShares, false).ok);
  wrongShares.outputBlocks = 3;
  expectRejected(wrongShares, "block counts 1/3 differ from the layout's 1/2");
}

TEST(VerifierRejects, ReducingInANonReductionCollective) {
  // A correct 2-rank AllGather, then one receive turned into a RecvReduce.
  Schedule s = findAlgorithm("ring")->generate({Collective::AllGather, 2, 0});
  ASSERT_TRUE(verifySchedule(s, false).ok);
  bool changed = false;
  for (Step& step : s.steps[1]) {
    if (!changed && step.kind == StepKind::Recv) {
      step.kind = StepKind::RecvReduce;
      step.src = step.dst;
      changed = true;
    }
  }
  ASSERT_TRUE(changed);
  expectRejected(s, "reduces in AllGather");
}

TEST(VerifierRejects, FinalizeOnAStepThatWritesNothing) {
  Schedule s = exchangeAllReduce();
  s.steps[0].push_back(make(StepKind::Send, 1, -1, out0, {}, true));
  s.steps[1].push_back(make(StepKind::Recv, -1, 0, {}, out0));
  expectRejected(s, "finalize on a step that writes nothing");
}

TEST(VerifierRejects, DoubleContribution) {
  Schedule s = twoRanks(Collective::AllReduce, 1, 1);
  s.steps[0] = {make(StepKind::Send, 1, -1, in0, {}), make(StepKind::Send, 1, -1, in0, {}),
                make(StepKind::Recv, -1, 1, {}, out0)};
  s.steps[1] = {make(StepKind::RecvReduce, -1, 0, in0, out0),
                make(StepKind::RecvReduce, -1, 0, out0, out0, true),
                make(StepKind::Send, 0, -1, out0, {})};
  expectRejected(s, "counts rank 0 twice");
}

TEST(VerifierRejects, MissingFinalize) {
  Schedule s = exchangeAllReduce();
  s.steps[1][0].finalize = false;
  expectRejected(s, "expected input block 0 of ranks {0-1} (finalized)");
}

TEST(VerifierRejects, FinalizeTwiceOrTooEarly) {
  Schedule twice = exchangeAllReduce();
  twice.steps[0].push_back(make(StepKind::Copy, -1, -1, out0, out0, true));
  expectRejected(twice, "final transform twice");

  Schedule early = exchangeAllReduce();
  early.steps[0].insert(early.steps[0].begin(), make(StepKind::Copy, -1, -1, in0, out0, true));
  early.steps[0][1].src = out0;
  expectRejected(early, "finalizes an incomplete result");

  Schedule broadcast = twoRanks(Collective::Broadcast, 1, 1);
  broadcast.steps[0] = {make(StepKind::Send, 1, -1, in0, {}),
                        make(StepKind::Copy, -1, -1, in0, out0, true)};
  broadcast.steps[1] = {make(StepKind::Recv, -1, 0, {}, out0)};
  expectRejected(broadcast, "finalize in Broadcast");
}

TEST(VerifierRejects, ReducingAFinalizedValue) {
  Schedule s = exchangeAllReduce();
  for (int r = 0; r < 2; ++r) {
    s.steps[r].push_back(make(StepKind::SendRecvReduce, 1 - r, 1 - r, out0, out0));
  }
  expectRejected(s, "reduces a finalized value");
}

TEST(VerifierRejects, WrongBlock) {
  // AllGather where rank 1 stores rank 0's share in its own slot.
  Schedule s = twoRanks(Collective::AllGather, 1, 2);
  s.steps[0] = {make(StepKind::Send, 1, -1, in0, {}), make(StepKind::Copy, -1, -1, in0, out0),
                make(StepKind::Recv, -1, 1, {}, out1)};
  s.steps[1] = {make(StepKind::Send, 0, -1, in0, {}), make(StepKind::Copy, -1, -1, in0, out1),
                make(StepKind::Recv, -1, 0, {}, out1)};
  expectRejected(s, "rank 1 Output block 0 holds undefined");

  // AllReduce over two blocks that adds block 1 of the peer to block 0.
  Schedule mixed = twoRanks(Collective::AllReduce, 2, 2);
  for (int r = 0; r < 2; ++r) {
    mixed.steps[r] = {make(StepKind::SendRecvReduce, 1 - r, 1 - r, r == 0 ? in0 : in1, out0)};
  }
  expectRejected(mixed, "combines different blocks");
}

TEST(VerifierRejects, DeadlockCycle) {
  Schedule s = twoRanks(Collective::AllReduce, 1, 1);
  for (int r = 0; r < 2; ++r) {
    s.steps[r] = {make(StepKind::RecvReduce, -1, 1 - r, in0, out0, true),
                  make(StepKind::Send, 1 - r, -1, in0, {})};
  }
  expectRejected(s, "deadlock: rank 0 step 0 (RecvReduce from 1) waits for a message");
}

TEST(VerifierRejects, MoreThanTwoMessagesInFlight) {
  // Each rank sends three messages before receiving any: needs a FIFO of 3, the model has 2.
  Schedule s = twoRanks(Collective::AllToAll, 2, 2);
  for (int r = 0; r < 2; ++r) {
    const int p = 1 - r;
    const BlockRef mine{BufferId::Input, p};
    const BlockRef theirs{BufferId::Output, p};
    s.steps[r] = {make(StepKind::Send, p, -1, mine, {}),
                  make(StepKind::Send, p, -1, mine, {}),
                  make(StepKind::Send, p, -1, mine, {}),
                  make(StepKind::Recv, -1, p, {}, theirs),
                  make(StepKind::Recv, -1, p, {}, theirs),
                  make(StepKind::Recv, -1, p, {}, theirs),
                  make(StepKind::Copy, -1, -1, {BufferId::Input, r}, {BufferId::Output, r})};
  }
  expectRejected(s, "waits for space towards rank 1");
  // Two in flight is within the model.
  for (auto& steps : s.steps) {
    steps.erase(steps.begin() + 4);
    steps.erase(steps.begin() + 2);
  }
  EXPECT_TRUE(verifySchedule(s, false).ok) << verifySchedule(s, false).error;
}

TEST(VerifierRejects, TouchingNonRootOutputInReduce) {
  Schedule s = findAlgorithm("ring")->generate({Collective::Reduce, 4, 0});
  ASSERT_TRUE(verifySchedule(s, false).ok);
  for (auto& steps : s.steps) {
    for (Step& step : steps) {
      if (step.dst.buffer == BufferId::Wire) step.dst = out0;
    }
  }
  expectRejected(s, "does not own");
}

TEST(VerifierRejects, TouchingNonRootInputInBroadcast) {
  Schedule s = findAlgorithm("ring")->generate({Collective::Broadcast, 3, 0});
  s.steps[1].push_back(make(StepKind::Copy, -1, -1, in0, out0));
  expectRejected(s, "rank 1 step 1 (Copy): touches Input block 0");
}

TEST(VerifierRejects, UnmatchedSend) {
  Schedule s = exchangeAllReduce();
  s.steps[1].push_back(make(StepKind::Send, 0, -1, out0, {}));
  expectRejected(s, "unmatched send: rank 1 step 1 (Send to 0)");
}

TEST(VerifierRejects, BadPeersAndBuffers) {
  Schedule self = exchangeAllReduce();
  self.steps[0][0].sendPeer = 0;
  expectRejected(self, "sendPeer is the rank itself");

  Schedule outside = exchangeAllReduce();
  outside.steps[1][0].recvPeer = 7;
  expectRejected(outside, "recvPeer out of range");

  Schedule stray = exchangeAllReduce();
  stray.steps[0].push_back(make(StepKind::Copy, 1, -1, out0, out0));
  expectRejected(stray, "sendPeer is set on a step that does not use it");

  Schedule wireDst = exchangeAllReduce();
  wireDst.steps[0][0].dst = wireRef;
  expectRejected(wireDst, "Wire as dst of SendRecvReduce");

  Schedule wireSrc = exchangeAllReduce();
  wireSrc.steps[0][0].src = wireRef;
  expectRejected(wireSrc, "Wire as src");

  Schedule writesInput = exchangeAllReduce();
  writesInput.steps[0][0].dst = in0;
  expectRejected(writesInput, "send buffer is const");

  Schedule range = exchangeAllReduce();
  range.steps[0][0].src = in1;
  expectRejected(range, "Input block 1 out of range");

  Schedule layout = twoRanks(Collective::AllGather, 1, 1);
  expectRejected(layout, "differ from the layout's 1/2");
}

TEST(VerifierRejects, ReadingUnsetOutput) {
  Schedule s = exchangeAllReduce();
  s.steps[0][0].src = out0;
  expectRejected(s, "reads Output block 0 before it is set");
}

TEST(VerifierRejects, OverwritingInputBeforeReadingItInPlace) {
  // AllToAll where rank 1 receives into its output before sending the aliased input.
  Schedule s = twoRanks(Collective::AllToAll, 2, 2);
  s.steps[0] = {make(StepKind::Send, 1, -1, in1, {}), make(StepKind::Recv, -1, 1, {}, out1),
                make(StepKind::Copy, -1, -1, in0, out0)};
  s.steps[1] = {make(StepKind::Recv, -1, 0, {}, out0), make(StepKind::Send, 0, -1, in0, {}),
                make(StepKind::Copy, -1, -1, in1, out1)};
  EXPECT_TRUE(verifySchedule(s, false).ok) << verifySchedule(s, false).error;
  expectRejected(s, "rank 0 Output block 1 holds input block 1 of ranks {0}", true);
}

// --- The selector. ---

SelectionRequest request(Collective c, int nranks, size_t bytes, std::string_view forced = {}) {
  return {c, nranks, bytes, forced};
}

TEST(Select, SmallAllReducePicksLatencyLargePicksRing) {
  for (int n : {4, 8, 13, 64}) {
    EXPECT_STREQ(selectAlgorithm(request(Collective::AllReduce, n, 1024)).name,
                 "recursive_doubling")
        << n;
    EXPECT_STREQ(selectAlgorithm(request(Collective::AllReduce, n, 256u << 20)).name, "ring") << n;
  }
}

TEST(Select, RootedCollectivesFollowTheModel) {
  EXPECT_STREQ(selectAlgorithm(request(Collective::Broadcast, 16, 1024)).name, "tree");
  EXPECT_STREQ(selectAlgorithm(request(Collective::Broadcast, 16, 256u << 20)).name, "ring");
  EXPECT_STREQ(selectAlgorithm(request(Collective::Reduce, 16, 1024)).name, "tree");
  EXPECT_STREQ(selectAlgorithm(request(Collective::Reduce, 16, 256u << 20)).name, "ring");
  EXPECT_STREQ(selectAlgorithm(request(Collective::AllToAll, 8, 1 << 20)).name, "pairwise");
  // The binomial Gather and Scatter tie with direct on shared memory (the root handles
  // every share either way); ties go to the simpler direct, which relays nothing.
  for (size_t bytes : {size_t{1024}, size_t{1} << 20}) {
    EXPECT_STREQ(selectAlgorithm(request(Collective::Gather, 8, bytes)).name, "direct");
    EXPECT_STREQ(selectAlgorithm(request(Collective::Scatter, 13, bytes)).name, "direct");
  }
  EXPECT_STREQ(selectAlgorithm(request(Collective::AllGather, 1, 0)).name, "ring");
}

TEST(Select, ForcedNamesAreHonored) {
  EXPECT_STREQ(selectAlgorithm(request(Collective::AllReduce, 8, 1024, "RING")).name, "ring");
  EXPECT_STREQ(
      selectAlgorithm(request(Collective::AllReduce, 8, 256u << 20, "Recursive_Doubling")).name,
      "recursive_doubling");
  // Unknown and unsupported names are skipped.
  EXPECT_STREQ(selectAlgorithm(request(Collective::AllReduce, 8, 1024, "nvls, ring")).name, "ring");
  EXPECT_STREQ(selectAlgorithm(request(Collective::Broadcast, 8, 1024, "pairwise,Ring")).name,
               "ring");
  // Nothing usable: back to the model.
  EXPECT_STREQ(selectAlgorithm(request(Collective::AllReduce, 8, 1024, "pairwise")).name,
               "recursive_doubling");
  EXPECT_STREQ(selectAlgorithm(request(Collective::AllReduce, 8, 1024, "bogus")).name,
               "recursive_doubling");
  // Several allowed: the model picks among them.
  EXPECT_STREQ(
      selectAlgorithm(request(Collective::AllReduce, 8, 1024, "ring,recursive_doubling")).name,
      "recursive_doubling");
  // NCCL_ALGO's "^" excludes.
  EXPECT_STREQ(selectAlgorithm(request(Collective::AllReduce, 8, 1024, "^recursive_doubling")).name,
               "ring");
}

TEST(Select, PredictionsGrowWithSizeAndFollowTheModel) {
  const AlgorithmInfo& ring = *findAlgorithm("ring");
  const double small = predictMicros(ring, request(Collective::AllReduce, 8, 1024));
  const double large = predictMicros(ring, request(Collective::AllReduce, 8, 64u << 20));
  EXPECT_GT(small, 0);
  EXPECT_GT(large, small);
  // Ring AllReduce moves 2(n-1)/n of the buffer per rank (~11.7 ms for 64 MiB at 10 GB/s)
  // and reduces (n-1)/n of it (~11.7 ms more at 5 GB/s).
  const double bytes = 64u << 20;
  EXPECT_NEAR(large / 1000, (2.0 * 7 / 8 * bytes / 10e9 + 7.0 / 8 * bytes / 5e9) * 1000, 0.5);
  // Unsupported collectives cost infinity.
  EXPECT_EQ(predictMicros(*findAlgorithm("pairwise"), request(Collective::AllReduce, 8, 1024)),
            std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace prism
