// The cost table a tuner plugin edits (src/comm/tuner_table.h): what Prism offers for a
// call, how PRISM_ALGO narrows it, and which entry an edit picks.
#include "src/comm/tuner_table.h"

#include <gtest/gtest.h>

#include <cstring>

namespace prism {
namespace {

constexpr float kIgnore = NCCL_ALGO_PROTO_IGNORE;

void expectAllProtocols(const TunerTable& t, int algorithm, float cost) {
  for (int p = 0; p < NCCL_NUM_PROTOCOLS_V5; ++p) {
    EXPECT_EQ(t.cost[algorithm][p], cost) << ncclAlgorithmName(algorithm) << "/" << p;
  }
}

TEST(TunerTable, AllReduceOffersTreeAndRingAtTheirPredictedTimes) {
  const SelectionRequest request{Collective::AllReduce, 4, 1 << 20, ""};
  const TunerTable t = offeredTable(request, std::nullopt);
  EXPECT_EQ(t.offer[NCCL_ALGO_TREE], TunerOffer::Offered);
  EXPECT_EQ(t.offer[NCCL_ALGO_RING], TunerOffer::Offered);
  expectAllProtocols(
      t, NCCL_ALGO_TREE,
      static_cast<float>(predictMicros(*findAlgorithm("double_binary_tree"), request)));
  expectAllProtocols(t, NCCL_ALGO_RING,
                     static_cast<float>(predictMicros(*findAlgorithm("ring"), request)));
  EXPECT_GT(t.cost[NCCL_ALGO_RING][NCCL_PROTO_SIMPLE], 0.0f);
  EXPECT_EQ(t.algorithm[NCCL_ALGO_TREE], findAlgorithm("double_binary_tree"));
  EXPECT_EQ(t.offer[NCCL_ALGO_PAT], TunerOffer::Unsupported);
  EXPECT_EQ(t.offer[NCCL_ALGO_NVLS], TunerOffer::NoCounterpart);
  EXPECT_EQ(t.offer[NCCL_ALGO_NVLS_TREE], TunerOffer::NoCounterpart);
  EXPECT_EQ(t.offer[NCCL_ALGO_COLLNET_DIRECT], TunerOffer::NoService);
  for (int a : {NCCL_ALGO_PAT, NCCL_ALGO_NVLS, NCCL_ALGO_NVLS_TREE, NCCL_ALGO_COLLNET_DIRECT,
                NCCL_ALGO_COLLNET_CHAIN}) {
    expectAllProtocols(t, a, kIgnore);
  }
}

TEST(TunerTable, TheInNetworkServiceIsBothCollNets) {
  const TunerTable t = offeredTable({Collective::AllReduce, 8, 4096, ""}, 12.5);
  for (int a : {NCCL_ALGO_COLLNET_DIRECT, NCCL_ALGO_COLLNET_CHAIN}) {
    EXPECT_EQ(t.offer[a], TunerOffer::Offered);
    EXPECT_EQ(t.algorithm[a], nullptr);  // not a plan: the in-network path
    expectAllProtocols(t, a, 12.5f);
  }
}

TEST(TunerTable, AllGatherOffersRingAndPat) {
  const TunerTable t = offeredTable({Collective::AllGather, 5, 1000, ""}, std::nullopt);
  EXPECT_EQ(t.offer[NCCL_ALGO_RING], TunerOffer::Offered);
  EXPECT_EQ(t.offer[NCCL_ALGO_PAT], TunerOffer::Offered);
  EXPECT_EQ(t.offer[NCCL_ALGO_TREE], TunerOffer::Unsupported);
}

TEST(TunerTable, PrismAlgoExcludesWhatItDoesNotAllow) {
  const TunerTable only = offeredTable({Collective::AllReduce, 4, 4096, "Ring"}, 3.0);
  EXPECT_EQ(only.offer[NCCL_ALGO_RING], TunerOffer::Offered);
  EXPECT_EQ(only.offer[NCCL_ALGO_TREE], TunerOffer::Excluded);
  EXPECT_EQ(only.offer[NCCL_ALGO_COLLNET_DIRECT], TunerOffer::Excluded);
  expectAllProtocols(only, NCCL_ALGO_TREE, kIgnore);
  const TunerTable but = offeredTable({Collective::AllReduce, 4, 4096, "^ring"}, 3.0);
  EXPECT_EQ(but.offer[NCCL_ALGO_RING], TunerOffer::Excluded);
  EXPECT_EQ(but.offer[NCCL_ALGO_TREE], TunerOffer::Offered);
  EXPECT_EQ(but.offer[NCCL_ALGO_COLLNET_CHAIN], TunerOffer::Offered);
}

TEST(TunerTable, OverrideLists) {
  EXPECT_TRUE(overrideAllows("", "ring"));
  EXPECT_TRUE(overrideAllows(" ring ", "ring"));
  EXPECT_TRUE(overrideAllows("tree, RING", "ring"));
  EXPECT_FALSE(overrideAllows("tree", "ring"));
  EXPECT_FALSE(overrideAllows("^ring", "ring"));
  EXPECT_TRUE(overrideAllows("^tree,pat", "ring"));
  EXPECT_FALSE(overrideAllows("^tree, innet", "innet"));
  EXPECT_FALSE(overrideAllows("rings", "ring"));
}

TEST(TunerTable, AnUntouchedTableIsNoOpinion) {
  const TunerTable t = offeredTable({Collective::AllReduce, 3, 65536, ""}, std::nullopt);
  float edited[NCCL_NUM_ALGORITHMS_V5][NCCL_NUM_PROTOCOLS_V5];
  std::memcpy(edited, t.cost, sizeof(edited));
  EXPECT_FALSE(pickedEntry(t, edited));
}

TEST(TunerTable, TheCheapestNonNegativeEntryIsPicked) {
  const TunerTable t = offeredTable({Collective::AllReduce, 3, 65536, ""}, std::nullopt);
  float edited[NCCL_NUM_ALGORITHMS_V5][NCCL_NUM_PROTOCOLS_V5];
  std::memcpy(edited, t.cost, sizeof(edited));
  edited[NCCL_ALGO_RING][NCCL_PROTO_LL128] = 0.0f;
  auto pick = pickedEntry(t, edited);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->algorithm, NCCL_ALGO_RING);
  EXPECT_EQ(pick->protocol, NCCL_PROTO_LL128);
  // An entry that was not offered can be picked; the caller refuses it.
  edited[NCCL_ALGO_NVLS][NCCL_PROTO_SIMPLE] = -0.0f;
  pick = pickedEntry(t, edited);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->algorithm, NCCL_ALGO_RING);  // the first of equal costs
  // Raising the others makes the next one the cheapest.
  for (float& cost : edited[NCCL_ALGO_RING]) cost = 1e9f;
  edited[NCCL_ALGO_NVLS][NCCL_PROTO_SIMPLE] = kIgnore;
  pick = pickedEntry(t, edited);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->algorithm, NCCL_ALGO_TREE);
  // Every entry negative: nothing to pick.
  for (auto& row : edited) {
    for (float& cost : row) cost = kIgnore;
  }
  EXPECT_FALSE(pickedEntry(t, edited));
}

TEST(TunerTable, NamesAndFunctions) {
  EXPECT_STREQ(ncclAlgorithmName(NCCL_ALGO_COLLNET_CHAIN), "COLLNET_CHAIN");
  EXPECT_STREQ(ncclAlgorithmName(7), "UNDEF");
  EXPECT_STREQ(ncclProtocolName(NCCL_PROTO_LL128), "LL128");
  EXPECT_STREQ(prismNameOf(NCCL_ALGO_TREE), "double_binary_tree");
  EXPECT_STREQ(prismNameOf(NCCL_ALGO_NVLS), "none");
  EXPECT_EQ(ncclFuncOf(Collective::AllReduce), ncclFuncAllReduce);
  EXPECT_EQ(ncclFuncOf(Collective::AllToAll), ncclFuncAlltoAll);
  EXPECT_EQ(ncclFuncOf(Collective::Gather), ncclFuncGather);
  EXPECT_EQ(ncclFuncOf(Collective::Scatter), ncclFuncScatter);
}

}  // namespace
}  // namespace prism
