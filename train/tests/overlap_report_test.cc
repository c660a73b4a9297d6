// The overlap A/B switch and its knobs: --serialize, --bucket-kb and --prefetch parse and
// validate; serializing, re-bucketing or prefetching deeper changes neither the losses nor
// the traffic (only when communication runs); the summary line gives the medians of the
// steps it covers.
#include <string>

#include "base/error.h"
#include "train/tests/train_harness.h"

namespace prism::train {
namespace {

using testing::runRanks;
using testing::tinyOptions;

TEST(OverlapOptions, ParsesSerializeAndBucketSize) {
  const Options plain = parseOptions({"--mode", "dp", "--dp", "2"});
  EXPECT_FALSE(plain.serialize);
  EXPECT_EQ(plain.bucketKb, 256);
  EXPECT_EQ(plain.prefetch, 1);
  const Options o = parseOptions(
      {"--mode", "dp", "--dp", "2", "--serialize", "--bucket-kb", "64", "--prefetch", "3"});
  EXPECT_TRUE(o.serialize);
  EXPECT_EQ(o.bucketKb, 64);
  EXPECT_EQ(o.prefetch, 3);
  EXPECT_THROW(parseOptions({"--bucket-kb", "big"}), Error);
  Options tiny = parseOptions({"--mode", "dp", "--dp", "2", "--bucket-kb", "2"});
  try {
    validateOptions(tiny, 2);
    ADD_FAILURE() << "--bucket-kb 2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--bucket-kb"), std::string::npos) << e.what();
  }
  Options none = parseOptions({"--mode", "zero3", "--dp", "2", "--prefetch", "0"});
  try {
    validateOptions(none, 2);
    ADD_FAILURE() << "--prefetch 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--prefetch"), std::string::npos) << e.what();
  }
}

// Losses (bit for bit: the same reductions run in the same order) and bytes per collective
// type must not depend on when the driver waits, nor on how gradients are bucketed.
void expectSameTraining(const Options& a, const Options& b, int ranks) {
  const auto ra = runRanks(a, ranks), rb = runRanks(b, ranks);
  for (int r = 0; r < ranks; ++r) {
    ASSERT_EQ(ra[r].size(), rb[r].size());
    for (size_t i = 0; i < ra[r].size(); ++i) {
      EXPECT_EQ(ra[r][i].loss, rb[r][i].loss) << "rank " << r << " step " << i;
      ASSERT_EQ(ra[r][i].comm.byType.size(), rb[r][i].comm.byType.size());
      for (const auto& [type, e] : ra[r][i].comm.byType)
        EXPECT_EQ(e.bytes, rb[r][i].comm.byType.at(type).bytes) << type;
      EXPECT_GE(ra[r][i].exposedMaxSeconds, ra[r][i].exposedMinSeconds);
    }
  }
}

TEST(OverlapSerialize, DataParallelTrainsTheSame) {
  Options overlapped = tinyOptions(Mode::Dp, 3);
  overlapped.mesh.dp = 2;
  Options serialized = overlapped;
  serialized.serialize = true;
  expectSameTraining(overlapped, serialized, 2);
}

TEST(OverlapSerialize, ZeroThreeTrainsTheSame) {
  Options overlapped = tinyOptions(Mode::Zero3, 3);
  overlapped.mesh.dp = 2;
  applyMode(overlapped);
  Options serialized = overlapped;
  serialized.serialize = true;
  expectSameTraining(overlapped, serialized, 2);
}

TEST(OverlapSerialize, PrefetchDepthDoesNotChangeTraining) {
  Options one = tinyOptions(Mode::Zero3, 3);
  one.mesh.dp = 2;
  applyMode(one);
  Options three = one;
  three.prefetch = 3;
  expectSameTraining(one, three, 2);
}

TEST(OverlapSerialize, BucketSizeDoesNotChangeTraining) {
  Options small = tinyOptions(Mode::Dp, 3);
  small.mesh.dp = 2;
  small.bucketKb = 4;  // a bucket per parameter or two
  Options large = small;
  large.bucketKb = 1024;  // one bucket
  expectSameTraining(small, large, 2);
}

StepReport report(double seconds, double comm, double exposed, int64_t bytes) {
  StepReport r;
  r.seconds = seconds;
  r.comm.commSeconds = comm;
  r.comm.exposedSeconds = exposed;
  r.exposedMinSeconds = exposed / 2;
  r.comm.add("allReduce", bytes);
  return r;
}

TEST(OverlapSummary, MediansSkipTheWarmUpStep) {
  // Step 0 is far off and skipped; the medians of {10, 30, 20} ms etc. are the middle ones.
  const std::vector<StepReport> steps{report(9.0, 9.0, 9.0, 1), report(0.010, 0.004, 0.001, 8),
                                      report(0.030, 0.008, 0.004, 8),
                                      report(0.020, 0.006, 0.003, 8)};
  const std::string line = formatSummary(steps, 1);
  EXPECT_NE(line.find("steps 1..3"), std::string::npos) << line;
  EXPECT_NE(line.find("time 20.00 ms"), std::string::npos) << line;
  EXPECT_NE(line.find("comm 6.00 ms"), std::string::npos) << line;
  EXPECT_NE(line.find("exposed 3.00 ms"), std::string::npos) << line;
  EXPECT_NE(line.find("min-rank exposed 1.50 ms"), std::string::npos) << line;
  // Overlap per step 75%, 50%, 50%: median 50%. Exposed share: 8 ms of 18 ms = 44.4%.
  EXPECT_NE(line.find("overlap 50%"), std::string::npos) << line;
  EXPECT_NE(line.find("exposed share 44.4%"), std::string::npos) << line;
  EXPECT_NE(line.find("bytes/step 8"), std::string::npos) << line;
  EXPECT_EQ(formatSummary(steps, 4), "summary: no steps");
}

}  // namespace
}  // namespace prism::train
