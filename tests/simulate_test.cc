// The schedule simulator: predictions on shared memory and on switched fabrics, where
// ranks of one host share its uplink.
#include "algorithms/simulate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "algorithms/fabric.h"
#include "algorithms/registry.h"
#include "algorithms/select.h"
#include "core/cost_profile.h"
#include "core/error.h"

namespace prism {
namespace {

Schedule ringAllReduce(int n) {
  return findAlgorithm("ring")->generate({Collective::AllReduce, n, 0});
}

TEST(Simulate, SharedMemoryMatchesTheAlphaBetaFormula) {
  const CostProfile profile;
  const Schedule ring = ringAllReduce(8);
  const double bytes = 64.0 * (1 << 20);
  const Prediction p =
      simulateSchedule(ring, bytes / ring.inputBlocks, sharedMemoryFabric(8, profile));
  ASSERT_TRUE(p.completes);
  // Each rank sends and receives 2(n-1)/n of the buffer and reduces (n-1)/n of it.
  EXPECT_NEAR(p.bandwidthMicros, 2.0 * 7 / 8 * bytes / profile.shmBytesPerMicro, 1e-6);
  EXPECT_NEAR(p.reduceMicros, 7.0 / 8 * bytes / profile.reduceBytesPerMicro, 1e-6);
  EXPECT_EQ(p.criticalSteps, 2 * 8 - 1);
  EXPECT_NEAR(p.latencyMicros, p.criticalSteps * profile.stepMicros, 1e-9);
  EXPECT_NEAR(p.micros, p.latencyMicros + p.bandwidthMicros + p.reduceMicros, 1e-9);
}

TEST(Simulate, RanksOfOneHostShareItsUplink) {
  CostProfile profile;
  profile.networkEfficiency = 1;
  const double link = 125;  // 1 Gbit/s in bytes per microsecond
  const double bytes = 16.0 * (1 << 20);
  const Schedule ring = ringAllReduce(4);
  // Round-robin: every hop of the rank-order ring crosses hosts, so each host's uplink
  // carries two ranks' 2(n-1)/n = 1.5 buffers.
  const Prediction roundRobin = simulateSchedule(ring, bytes / ring.inputBlocks,
                                                 switchedFabric({0, 1, 0, 1}, link, 10, profile));
  EXPECT_NEAR(roundRobin.bandwidthMicros, 3 * bytes / link, 1e-6);
  EXPECT_NE(roundRobin.bottleneck.find("host"), std::string::npos) << roundRobin.bottleneck;
  // Block placement: only two hops cross hosts, one per direction per host.
  const Prediction block = simulateSchedule(ring, bytes / ring.inputBlocks,
                                            switchedFabric({0, 0, 1, 1}, link, 10, profile));
  EXPECT_NEAR(block.bandwidthMicros, 1.5 * bytes / link, 1e-6);
  // Network steps cost more than shared-memory ones.
  EXPECT_GT(roundRobin.latencyMicros, ring.steps[0].size() * profile.networkStepMicros);
}

TEST(Simulate, StuckSchedulesCostInfinity) {
  Schedule s = ringAllReduce(3);
  s.steps[1].clear();  // rank 1 never forwards
  const Prediction p = simulateSchedule(s, 1024, sharedMemoryFabric(3, CostProfile{}));
  EXPECT_FALSE(p.completes);
  EXPECT_EQ(p.micros, std::numeric_limits<double>::infinity());
}

TEST(Select, TheFabricChangesThePrediction) {
  const std::vector<int> hosts = {0, 1, 0, 1};
  const FabricModel fabric = switchedFabric(hosts, 125, 10, CostProfile{});
  SelectionRequest onShm{Collective::AllReduce, 4, 16u << 20, {}};
  SelectionRequest onNet = onShm;
  onNet.fabric = &fabric;
  const AlgorithmInfo& ring = *findAlgorithm("ring");
  EXPECT_GT(predictMicros(ring, onNet), 10 * predictMicros(ring, onShm));
}

TEST(CostProfile, ParsesFormatsAndRejectsBadFiles) {
  CostProfile p;
  p.stepMicros = 2.25;
  p.reduceBytesPerMicro = 1234;
  const CostProfile back = parseCostProfile(formatCostProfile(p), "test");
  EXPECT_EQ(back.stepMicros, 2.25);
  EXPECT_EQ(back.reduceBytesPerMicro, 1234);
  EXPECT_EQ(back.shmBytesPerMicro, p.shmBytesPerMicro);
  // Missing fields keep their defaults.
  EXPECT_EQ(parseCostProfile("{}", "test").stepMicros, CostProfile{}.stepMicros);
  try {
    parseCostProfile("{\"step_us\": -1}", "profile.json");
    FAIL() << "negative step accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("profile.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step_us"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parseCostProfile("{oops", "x"), Error);
  EXPECT_THROW(parseCostProfile("[1]", "x"), Error);
}

}  // namespace
}  // namespace prism
