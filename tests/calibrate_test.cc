// prism-bench --calibrate and --predict: the calibration formulas (perf/bench/calibrate.h)
// against the simulator they invert, and the real binary end to end (no timing asserted).
#include "perf/bench/calibrate.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "algorithms/cost_profile.h"
#include "algorithms/fabric.h"
#include "algorithms/select.h"

namespace prism::bench {
namespace {

// The pure arithmetic of perf/bench/calibrate.h.
TEST(BenchCalibrate, SizesAreWholeFloatsPerRank) {
  EXPECT_EQ(calibrationSizes(32u << 20, 2), (std::vector<size_t>{2u << 20, 8u << 20, 32u << 20}));
  // 3 ranks: multiples of 12 bytes; 48/16 rounds to nothing.
  EXPECT_EQ(calibrationSizes(48, 3), (std::vector<size_t>{12, 48}));
  EXPECT_TRUE(calibrationSizes(8, 4).empty());
}

TEST(BenchCalibrate, MedianAndSlope) {
  EXPECT_DOUBLE_EQ(median({}), 0.0);
  EXPECT_DOUBLE_EQ(median({5, 1, 3}), 3.0);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  // Exactly on t = 10 + 0.5 b.
  EXPECT_NEAR(fitSlope({{100, 60}, {400, 210}, {1600, 810}}, 0), 0.5, 1e-12);
  // One size: the point's time beyond the fixed part.
  EXPECT_NEAR(fitSlope({{1000, 30}}, 10), 0.02, 1e-12);
}

// Samples that the model's formulas (calibrate.h) give for `truth`; deriving must return
// `truth` again.
CalibrationSamples samplesFor(const CostProfile& truth, int n) {
  CalibrationSamples s;
  s.nranks = n;
  const double share = (n - 1.0) / n;
  s.smallAllReduceUs = (2 * n - 1) * truth.stepMicros + 2 * share * 8 / truth.shmBytesPerMicro +
                       share * 8 / truth.reduceBytesPerMicro;
  for (double bytes : {1e6, 4e6, 16e6}) {
    s.allGather.push_back(
        {static_cast<size_t>(bytes), n * truth.stepMicros + bytes / truth.shmBytesPerMicro});
    s.allReduce.push_back(
        {static_cast<size_t>(bytes), (2 * n - 1) * truth.stepMicros +
                                         2 * share * bytes / truth.shmBytesPerMicro +
                                         share * bytes / truth.reduceBytesPerMicro});
  }
  return s;
}

TEST(BenchCalibrate, DerivesTheConstantsBack) {
  CostProfile truth;
  truth.stepMicros = 2;
  truth.shmBytesPerMicro = 4000;
  truth.reduceBytesPerMicro = 1500;
  for (int n : {2, 3, 5, 8}) {
    const Calibration c = deriveProfile(samplesFor(truth, n));
    EXPECT_NEAR(c.profile.stepMicros, 2, 1e-9) << n;
    EXPECT_NEAR(c.profile.shmBytesPerMicro, 4000, 1e-6) << n;
    EXPECT_NEAR(c.profile.reduceBytesPerMicro, 1500, 1e-6) << n;
    // One host: the network fields keep their defaults.
    EXPECT_DOUBLE_EQ(c.profile.networkEfficiency, CostProfile{}.networkEfficiency);
    EXPECT_DOUBLE_EQ(c.profile.networkStepMicros, CostProfile{}.networkStepMicros);
  }
}

TEST(BenchCalibrate, HiddenReductionIsBoundedAndSaysSo) {
  CostProfile truth;
  truth.reduceBytesPerMicro = 1e12;  // free reduction: the allreduce is all copies
  CalibrationSamples s = samplesFor(truth, 2);
  for (TimedSize& t : s.allReduce) t.us -= 1;  // a little noise below the copies
  const Calibration c = deriveProfile(s);
  EXPECT_GT(c.profile.reduceBytesPerMicro, 0);
  EXPECT_LT(c.profile.reduceBytesPerMicro, 1e12);
  bool said = false;
  for (const std::string& note : c.notes) said |= note.find("bounded") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST(BenchCalibrate, NetworkFieldsAcrossHosts) {
  CalibrationSamples s = samplesFor(CostProfile{}, 2);
  s.networkSmallUs = 30;
  s.networkBytes = 1000000;
  s.networkLargeUs = 30 + 1e6 / (1000 * 0.8);  // 8 Gbit/s = 1000 B/us at 80%
  Calibration c = deriveProfile(s);
  EXPECT_NEAR(c.profile.networkStepMicros, 30 - c.profile.stepMicros, 1e-9);
  EXPECT_DOUBLE_EQ(c.profile.networkEfficiency, CostProfile{}.networkEfficiency);  // no rate
  s.linkGbit = 8;
  c = deriveProfile(s);
  EXPECT_NEAR(c.profile.networkEfficiency, 0.8, 1e-9);
  s.linkGbit = 1;  // faster than the claimed link: capped at 1
  EXPECT_DOUBLE_EQ(deriveProfile(s).profile.networkEfficiency, 1.0);
}

TEST(BenchCalibrate, EmulatedFabricFieldsAreCarriedOver) {
  // prism-run's profile for 4 hosts x 2 ranks on 2 cores, as the ranks find it.
  CalibrationSamples s = samplesFor(CostProfile{}, 8);
  ASSERT_TRUE(readCarriedFields(
      "{\"network_burst_bytes\": 1250000, \"shared_cores\": 2, \"step_us\": 9}", &s.base));
  EXPECT_FALSE(readCarriedFields("[1]", &s.base));
  EXPECT_EQ(s.base.stepMicros, CostProfile{}.stepMicros);  // measured, not carried
  s.networkSmallUs = 1000;  // half round trip while 8 ranks share 2 cores
  s.networkBytes = 1000000;
  s.networkLargeUs = 9000;
  const Calibration c = deriveProfile(s);
  EXPECT_EQ(c.profile.networkBurstBytes, 1250000);
  EXPECT_EQ(c.profile.sharedCores, 2);
  EXPECT_EQ(c.profile.wakeMicros, CostProfile{}.wakeMicros);
  // Waiting for a core is not a per-step cost: the default stays, and the notes say why.
  EXPECT_EQ(c.profile.networkStepMicros, CostProfile{}.networkStepMicros);
  bool said = false;
  for (const std::string& note : c.notes) said |= note.find("shared_cores") != std::string::npos;
  EXPECT_TRUE(said);
  // Enough cores: the half round trip is the step again.
  s.base.sharedCores = 8;
  EXPECT_NEAR(deriveProfile(s).profile.networkStepMicros, 1000 - CostProfile{}.stepMicros, 1e-9);
}

TEST(BenchCalibrate, NothingMeasuredKeepsDefaults) {
  CalibrationSamples s;
  s.nranks = 1;
  const Calibration c = deriveProfile(s);
  EXPECT_DOUBLE_EQ(c.profile.stepMicros, CostProfile{}.stepMicros);
  EXPECT_DOUBLE_EQ(c.profile.shmBytesPerMicro, CostProfile{}.shmBytesPerMicro);
}

TEST(BenchCalibrate, ProfileJsonAndSummary) {
  CostProfile p;
  p.stepMicros = 2.5;
  const nlohmann::json doc = nlohmann::json::parse(formatProfileJson(p));
  EXPECT_DOUBLE_EQ(doc.at("step_us").get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(doc.at("shm_bytes_per_us").get<double>(), p.shmBytesPerMicro);
  EXPECT_DOUBLE_EQ(doc.at("reduce_bytes_per_us").get<double>(), p.reduceBytesPerMicro);
  EXPECT_DOUBLE_EQ(doc.at("network_efficiency").get<double>(), p.networkEfficiency);
  EXPECT_DOUBLE_EQ(doc.at("network_step_us").get<double>(), p.networkStepMicros);
  EXPECT_DOUBLE_EQ(doc.at("network_burst_bytes").get<double>(), 0);
  EXPECT_DOUBLE_EQ(doc.at("shared_cores").get<double>(), 0);
  EXPECT_DOUBLE_EQ(doc.at("wake_us").get<double>(), p.wakeMicros);
  EXPECT_EQ(doc.size(), 8u);

  const CalibrationSamples s = samplesFor(p, 2);
  const std::string text = formatCalibration(s, deriveProfile(s));
  EXPECT_NE(text.find("# Calibration on 2 ranks"), std::string::npos) << text;
  EXPECT_NE(text.find("allgather      1000000 B"), std::string::npos) << text;
  EXPECT_NE(text.find("step_us 2.500"), std::string::npos) << text;
}

}  // namespace
}  // namespace prism::bench

namespace prism {
namespace {

CostProfile testProfile() {
  CostProfile p;
  p.stepMicros = 2;
  p.shmBytesPerMicro = 4000;
  p.reduceBytesPerMicro = 1500;
  return p;
}

Prediction ringPrediction(Collective collective, int n, size_t bytes, const CostProfile& p) {
  const FabricModel fabric = sharedMemoryFabric(n, p);
  const AlgorithmInfo* ring = findAlgorithm("ring");
  EXPECT_NE(ring, nullptr);
  return predict(*ring, SelectionRequest{collective, n, bytes, "", &fabric});
}

TEST(CalibrateFormulas, MatchTheSimulatorForRing) {
  const CostProfile p = testProfile();
  for (int n : {2, 3, 5, 8, 11}) {
    const size_t bytes = size_t{3} << 20;
    const double s = static_cast<double>(bytes);
    const double share = (n - 1.0) / n;

    const Prediction ar = ringPrediction(Collective::AllReduce, n, bytes, p);
    EXPECT_EQ(ar.criticalSteps, bench::ringAllReduceSteps(n)) << n;
    const double arWant = bench::ringAllReduceSteps(n) * p.stepMicros +
                          2 * share * s / p.shmBytesPerMicro + share * s / p.reduceBytesPerMicro;
    EXPECT_NEAR(ar.micros, arWant, 1e-9 * arWant) << n;

    const Prediction ag = ringPrediction(Collective::AllGather, n, bytes, p);
    EXPECT_EQ(ag.criticalSteps, bench::ringAllGatherSteps(n)) << n;
    const double agWant = bench::ringAllGatherSteps(n) * p.stepMicros + s / p.shmBytesPerMicro;
    EXPECT_NEAR(ag.micros, agWant, 1e-9 * agWant) << n;
  }
}

// Times the simulator predicts for a profile calibrate back to that profile, and the file
// written for it is what PRISM_TUNING_FILE reads.
TEST(CalibrateFormulas, SimulatedTimesCalibrateBackToTheProfile) {
  const CostProfile p = testProfile();
  for (int n : {2, 4, 7}) {
    bench::CalibrationSamples samples;
    samples.nranks = n;
    samples.smallAllReduceUs = ringPrediction(Collective::AllReduce, n, 8, p).micros;
    for (size_t bytes : bench::calibrationSizes(size_t{32} << 20, n)) {
      samples.allGather.push_back(
          {bytes, ringPrediction(Collective::AllGather, n, bytes, p).micros});
      samples.allReduce.push_back(
          {bytes, ringPrediction(Collective::AllReduce, n, bytes, p).micros});
    }
    const CostProfile got = bench::deriveProfile(samples).profile;
    EXPECT_NEAR(got.stepMicros, p.stepMicros, 1e-9) << n;
    EXPECT_NEAR(got.shmBytesPerMicro, p.shmBytesPerMicro, 1e-6 * p.shmBytesPerMicro) << n;
    EXPECT_NEAR(got.reduceBytesPerMicro, p.reduceBytesPerMicro, 1e-6 * p.reduceBytesPerMicro) << n;

    const CostProfile parsed = parseCostProfile(bench::formatProfileJson(got), "test");
    EXPECT_DOUBLE_EQ(parsed.stepMicros, got.stepMicros);
    EXPECT_DOUBLE_EQ(parsed.shmBytesPerMicro, got.shmBytesPerMicro);
    EXPECT_DOUBLE_EQ(parsed.reduceBytesPerMicro, got.reduceBytesPerMicro);
    EXPECT_DOUBLE_EQ(parsed.networkEfficiency, got.networkEfficiency);
    EXPECT_DOUBLE_EQ(parsed.networkStepMicros, got.networkStepMicros);
  }
}

#ifdef PRISM_BENCH_BIN
// Runs `command`, returns its exit status; its output goes to `output`.
int runCommand(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string tempPath(const char* name) {
  return ::testing::TempDir() + "prism_" + std::to_string(getpid()) + "_" + name;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(CalibrateBench, WritesAProfileThatParses) {
  const std::string path = tempPath("profile.json");
  std::string output;
  const int status = runCommand(
      std::string(PRISM_BENCH_BIN) + " allreduce -np 2 -e 2M -n 3 -w 1 --calibrate " + path,
      output);
  ASSERT_EQ(status, 0) << output;
  EXPECT_NE(output.find("# Calibration on 2 ranks"), std::string::npos) << output;
  EXPECT_NE(output.find("# Wrote " + path), std::string::npos) << output;
  const CostProfile p = parseCostProfile(readFile(path), path);
  // Plausible, not timed: a step takes between 10 ns and 100 ms on any machine this runs
  // on, and memory moves between 1 MB/s and 10 TB/s.
  EXPECT_GT(p.stepMicros, 0.01);
  EXPECT_LT(p.stepMicros, 1e5);
  for (double speed : {p.shmBytesPerMicro, p.reduceBytesPerMicro}) {
    EXPECT_GT(speed, 1);
    EXPECT_LT(speed, 1e7);
  }
  // One host: the network fields are the defaults.
  EXPECT_DOUBLE_EQ(p.networkEfficiency, CostProfile{}.networkEfficiency);
  EXPECT_DOUBLE_EQ(p.networkStepMicros, CostProfile{}.networkStepMicros);
  std::remove(path.c_str());
}

TEST(CalibrateBench, OneRankIsRefused) {
  const std::string path = tempPath("one.json");
  std::string output;
  EXPECT_EQ(runCommand(std::string(PRISM_BENCH_BIN) + " --calibrate " + path, output), 2) << output;
  EXPECT_NE(output.find("at least 2 ranks"), std::string::npos) << output;
}

TEST(CalibrateBench, PredictAddsTheModelsTime) {
  const std::string path = tempPath("predict.json");
  std::string output;
  const int status = runCommand(std::string(PRISM_BENCH_BIN) +
                                    " allreduce -np 2 -b 8 -e 1M -f 1024 -n 2 -w 1 --predict "
                                    "--json " +
                                    path,
                                output);
  ASSERT_EQ(status, 0) << output;
  EXPECT_NE(output.find("pred meas/pred"), std::string::npos) << output;
  const nlohmann::json doc = nlohmann::json::parse(readFile(path));
  ASSERT_EQ(doc.at("results").size(), 2u);
  for (const nlohmann::json& row : doc.at("results")) {
    const double predicted = row.at("predicted_us").get<double>();
    EXPECT_GT(predicted, 0);
    const double measured = row.at("out_of_place").at("time_us").get<double>();
    EXPECT_NEAR(row.at("measured_over_predicted").at("out_of_place").get<double>(),
                measured / predicted, 1e-9 * measured / predicted);
    EXPECT_EQ(row.at("out_of_place").at("wrong").get<int64_t>(), 0);  // the call still ran
  }
  // 1 MiB moves more than 8 B: the model must say it takes longer.
  EXPECT_GT(doc.at("results").at(1).at("predicted_us").get<double>(),
            doc.at("results").at(0).at("predicted_us").get<double>());
  std::remove(path.c_str());
}
#else
TEST(CalibrateBench, WritesAProfileThatParses) { GTEST_SKIP() << "prism-bench is not built"; }
#endif

}  // namespace
}  // namespace prism
