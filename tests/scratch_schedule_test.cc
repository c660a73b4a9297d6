// Scratch blocks in schedules: the verifier's rules for them (undefined at the start, never
// a result, no aliasing, sized like an input block), the simulator's cost of them, and the
// generators that use them: PAT ReduceScatter and the binomial Gather and Scatter. Every
// generator is also proved for 1..64 ranks by algorithms_test and run by the executor by
// algorithm_library_test; this file checks their shape against independent peer math.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "algorithms/fabric.h"
#include "algorithms/registry.h"
#include "algorithms/schedule_builder.h"
#include "algorithms/simulate.h"
#include "algorithms/verifier.h"
#include "tests/harness/handmade_schedule.h"

namespace prism {
namespace {

using test::in0;
using test::in1;
using test::make;
using test::out0;
using test::scratch0;
using test::scratch1;
using test::twoRanks;

/// A correct 2-rank ReduceScatter that keeps its own contribution in scratch while it sends
/// the peer's block: right in place too, since scratch aliases nothing.
Schedule stagedReduceScatter() {
  Schedule s = twoRanks(Collective::ReduceScatter, 2, 1, 1);
  for (int r = 0; r < 2; ++r) {
    const BlockRef mine{BufferId::Input, r};
    const BlockRef theirs{BufferId::Input, 1 - r};
    s.steps[r] = {make(StepKind::Copy, -1, -1, mine, scratch0),
                  make(StepKind::Send, 1 - r, -1, theirs, {}),
                  make(StepKind::RecvReduce, -1, 1 - r, scratch0, out0, true)};
  }
  return s;
}

void expectRejected(const Schedule& s, const std::string& needle, bool inPlace) {
  const VerifyResult result = verifySchedule(s, inPlace);
  EXPECT_FALSE(result.ok) << "accepted a broken schedule; expected: " << needle;
  EXPECT_NE(result.error.find(needle), std::string::npos) << result.error;
}

TEST(ScratchVerifier, AcceptsAScheduleThatStagesThroughScratch) {
  for (bool inPlace : {false, true}) {
    const VerifyResult result = verifySchedule(stagedReduceScatter(), inPlace);
    EXPECT_TRUE(result.ok) << result.error;
  }
}

TEST(ScratchVerifier, RejectsReadingScratchBeforeWritingIt) {
  Schedule s = stagedReduceScatter();
  s.steps[1].erase(s.steps[1].begin());  // rank 1 no longer fills scratch block 0
  for (bool inPlace : {false, true}) {
    expectRejected(s, "rank 1 step 1 (RecvReduce from 0): reads Scratch block 0 before it is set",
                   inPlace);
  }
  // Nor may it read a scratch block that another step never set, even one that exists.
  Schedule other = stagedReduceScatter();
  other.scratchBlocks = 2;
  other.steps[0][2].src = scratch1;
  expectRejected(other, "reads Scratch block 1 before it is set", false);
}

TEST(ScratchVerifier, RejectsAResultLeftOnlyInScratch) {
  Schedule s = stagedReduceScatter();
  s.scratchBlocks = 2;
  s.steps[0][2].dst = scratch1;  // the complete sum, but not in the output
  for (bool inPlace : {false, true}) {
    // In place, the output block is the rank's input block: it holds only its own share.
    expectRejected(s,
                   inPlace ? "rank 0 Output block 0 holds input block 0 of ranks {0}, expected"
                           : "rank 0 Output block 0 holds undefined, expected",
                   inPlace);
  }
}

TEST(ScratchVerifier, RejectsScratchOutOfRangeOrMisshapen) {
  Schedule undeclared = stagedReduceScatter();
  undeclared.scratchBlocks = 0;
  expectRejected(undeclared, "rank 0 step 0 (Copy): Scratch block 0 out of range", false);

  Schedule negative = stagedReduceScatter();
  negative.scratchBlocks = -1;
  expectRejected(negative, "scratch block count must not be negative", false);

  // Where the count is split, scratch block b is as long as input block b: no more scratch
  // blocks than input blocks, and block b holds only data of input block b.
  Schedule tooMany = twoRanks(Collective::AllReduce, 1, 1, 2);
  expectRejected(tooMany, "more scratch blocks than input blocks", false);

  Schedule swapped = twoRanks(Collective::AllReduce, 2, 2, 2);
  for (int r = 0; r < 2; ++r) {
    swapped.steps[r] = {make(StepKind::Copy, -1, -1, in0, scratch1)};
  }
  expectRejected(swapped, "writes input block 0 of ranks {0} into Scratch block 1", false);
}

TEST(ScratchVerifier, OwnedByEveryRankEvenWhereItsBuffersMayBeNull) {
  // A Gather relay: rank 1 passes rank 2's share on through scratch, though its own
  // output may be NULL (and touching that stays an error).
  Schedule s;
  s.collective = Collective::Gather;
  s.nranks = 3;
  s.algorithm = "handmade";
  s.inputBlocks = 1;
  s.outputBlocks = 3;
  s.scratchBlocks = 1;
  s.steps = {{make(StepKind::Recv, -1, 1, {}, {BufferId::Output, 1}),
              make(StepKind::Recv, -1, 1, {}, {BufferId::Output, 2}),
              make(StepKind::Copy, -1, -1, in0, out0)},
             {make(StepKind::Recv, -1, 2, {}, scratch0), make(StepKind::Send, 0, -1, in0, {}),
              make(StepKind::Send, 0, -1, scratch0, {})},
             {make(StepKind::Send, 1, -1, in0, {})}};
  for (bool inPlace : {false, true}) {
    const VerifyResult result = verifySchedule(s, inPlace);
    EXPECT_TRUE(result.ok) << result.error;
  }
  s.steps[1][0].dst = {BufferId::Output, 2};
  s.steps[1][2].src = {BufferId::Output, 2};
  expectRejected(s, "touches Output block 2, which this rank does not own", false);
}

TEST(ScratchComposition, SubSchedulesWithScratchAreRefused) {
  const Schedule sub = findAlgorithm("pat")->generate({Collective::ReduceScatter, 4, 0});
  ASSERT_GT(sub.scratchBlocks, 0);
  Schedule global = build::makeSchedule({Collective::ReduceScatter, 4, 0}, "composed", 4, 1);
  const std::vector<int> members = {0, 1, 2, 3};
  EXPECT_ANY_THROW(build::appendSubSchedule(
      global, sub, members, [](int, BlockRef ref) { return std::vector{ref}; }, true));
}

TEST(ScratchSimulation, CopiesAndReductionsInScratchCostLikeLocalMemory) {
  Schedule s = stagedReduceScatter();
  const FabricModel fabric = sharedMemoryFabric(2, CostProfile{});
  const Prediction p = simulateSchedule(s, 1000, fabric);
  ASSERT_TRUE(p.completes);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(p.copied[r], 1000) << r;   // input -> scratch
    EXPECT_EQ(p.reduced[r], 1000) << r;  // scratch (+) incoming -> output
    EXPECT_EQ(p.sent[r], 1000) << r;
  }
  // The same schedule without the staging copy costs the same messages and less memory
  // traffic, never more time.
  Schedule direct = s;
  for (int r = 0; r < 2; ++r) {
    direct.steps[r].erase(direct.steps[r].begin());
    direct.steps[r][1].src = {BufferId::Input, r};
  }
  direct.scratchBlocks = 0;
  ASSERT_TRUE(verifySchedule(direct, false).ok);
  EXPECT_LE(simulateSchedule(direct, 1000, fabric).micros, p.micros);
}

// --- The generators that use scratch, against peer math written out independently. ---

int lowestBit(int v) { return v & -v; }
int ceilLog2(int n) {
  int levels = 0;
  while ((1 << levels) < n) ++levels;
  return levels;
}

/// 1 + the highest scratch block any rank names.
int scratchUsed(const Schedule& s) {
  int used = 0;
  for (const auto& steps : s.steps) {
    for (const Step& step : steps) {
      if (step.src.buffer == BufferId::Scratch) used = std::max(used, step.src.block + 1);
      if (step.dst.buffer == BufferId::Scratch) used = std::max(used, step.dst.block + 1);
    }
  }
  return used;
}

TEST(ScratchGenerators, DeclareExactlyTheScratchTheyUse) {
  for (const AlgorithmInfo& info : allAlgorithms()) {
    for (int c = 0; c < kNumCollectives; ++c) {
      const Collective coll = static_cast<Collective>(c);
      if (!info.supports(coll)) continue;
      for (int n = 1; n <= 64; ++n) {
        const Schedule s = info.generate({coll, n, n - 1});
        EXPECT_EQ(s.scratchBlocks, scratchUsed(s))
            << info.name << " " << collectiveName(coll) << " n=" << n;
      }
    }
  }
}

TEST(ScratchGenerators, PatReduceScatterMirrorsItsAllGather) {
  for (int n = 1; n <= 64; ++n) {
    const Schedule rs = findAlgorithm("pat")->generate({Collective::ReduceScatter, n, 0});
    const Schedule ag = findAlgorithm("pat")->generate({Collective::AllGather, n, 0});
    // Partial sums of every even position with a right neighbour: 2, 4, ... <= n-2.
    int evens = 0;
    for (int u = 2; u + 1 < n; u += 2) ++evens;
    EXPECT_EQ(rs.scratchBlocks, evens) << n;
    for (int r = 0; r < n; ++r) {
      // Every message of the AllGather runs backwards: as many sends as it has receives,
      // to the peers it received from, and the other way round.
      std::multiset<int> agFrom, agTo, rsFrom, rsTo;
      int finals = 0, reductions = 0;
      for (const Step& step : ag.steps[r]) {
        if (stepReceives(step.kind)) agFrom.insert(step.recvPeer);
        if (stepSends(step.kind)) agTo.insert(step.sendPeer);
      }
      for (const Step& step : rs.steps[r]) {
        if (stepReceives(step.kind)) rsFrom.insert(step.recvPeer);
        if (stepSends(step.kind)) rsTo.insert(step.sendPeer);
        finals += step.finalize;
        reductions += stepReduces(step.kind);
      }
      EXPECT_EQ(rsFrom, agTo) << "n=" << n << " rank " << r;
      EXPECT_EQ(rsTo, agFrom) << "n=" << n << " rank " << r;
      EXPECT_EQ(finals, 1) << "n=" << n << " rank " << r;
      // Distances 1, 2, 4, ...: log2(n) levels, so at most ceil(log2 n) distinct peers.
      EXPECT_LE(std::set<int>(rsTo.begin(), rsTo.end()).size(), static_cast<size_t>(ceilLog2(n)));
      // One reduction per edge of the n trees a rank takes part in: n-1 in all.
      EXPECT_EQ(reductions, n - 1) << "n=" << n << " rank " << r;
    }
  }
}

/// The binomial tree with contiguous subtrees, relative to the root: parent clears the
/// lowest bit; the subtree of v is [v, v + lowestBit(v)) within n.
int treeParent(int v) { return v - lowestBit(v); }
int subtree(int v, int n) { return v == 0 ? n : std::min(lowestBit(v), n - v); }

TEST(ScratchGenerators, BinomialGatherAndScatterFollowTheTree) {
  for (int n = 1; n <= 64; ++n) {
    for (int root : {0, n / 2, n - 1}) {
      const Schedule gather = findAlgorithm("tree")->generate({Collective::Gather, n, root});
      const Schedule scatter = findAlgorithm("tree")->generate({Collective::Scatter, n, root});
      int mostRelayed = 0;
      int depth = 0;
      std::set<int> levels;  // distances to the parent, one level each
      for (int r = 0; r < n; ++r) {
        const int v = ((r - root) % n + n) % n;
        if (v != 0) mostRelayed = std::max(mostRelayed, subtree(v, n) - 1);
        if (v != 0) levels.insert(lowestBit(v));
        int hops = 0;
        for (int u = v; u != 0; u = treeParent(u)) ++hops;
        depth = std::max(depth, hops);
        // Gather: every share of the subtree goes to the parent; Scatter: comes from it.
        int toParent = 0, fromParent = 0, gathered = 0, scattered = 0;
        const int parent = v == 0 ? -1 : (treeParent(v) + root) % n;
        for (const Step& step : gather.steps[r]) {
          toParent += stepSends(step.kind) && step.sendPeer == parent;
          gathered += stepReceives(step.kind);
          EXPECT_TRUE(v == 0 || step.dst.buffer != BufferId::Output) << "n=" << n << " r=" << r;
        }
        for (const Step& step : scatter.steps[r]) {
          fromParent += stepReceives(step.kind) && step.recvPeer == parent;
          scattered += stepSends(step.kind);
          const bool readsSrc = step.kind != StepKind::Recv && step.kind != StepKind::RecvSend;
          EXPECT_TRUE(v == 0 || !readsSrc || step.src.buffer != BufferId::Input)
              << "n=" << n << " r=" << r;
        }
        EXPECT_EQ(toParent, v == 0 ? 0 : subtree(v, n)) << "n=" << n << " r=" << r;
        EXPECT_EQ(fromParent, v == 0 ? 0 : subtree(v, n)) << "n=" << n << " r=" << r;
        EXPECT_EQ(gathered, subtree(v, n) - 1) << "n=" << n << " r=" << r;
        EXPECT_EQ(scattered, subtree(v, n) - 1) << "n=" << n << " r=" << r;
      }
      EXPECT_EQ(levels.size(), static_cast<size_t>(ceilLog2(n))) << n;  // log2(n) levels
      EXPECT_LE(depth, ceilLog2(n)) << n;
      EXPECT_EQ(gather.scratchBlocks, mostRelayed) << n;
      EXPECT_EQ(scatter.scratchBlocks, mostRelayed) << n;
      EXPECT_LE(mostRelayed, n / 2) << n;
    }
  }
}

}  // namespace
}  // namespace prism
