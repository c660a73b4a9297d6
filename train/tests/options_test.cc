// Command-line parsing, the constraints between mesh degrees and model dimensions (each
// violation names its constraint, also when a real run is started), and the pipeline
// schedules.
#include "base/error.h"
#include "train/parallel/pipeline.h"
#include "train/tests/train_harness.h"

namespace prism::train {
namespace {

using testing::tinyOptions;

// validateOptions(options, world) must throw a prism::Error whose message contains `text`.
void expectRejected(const Options& o, int world, const std::string& text) {
  try {
    validateOptions(o, world);
    ADD_FAILURE() << "accepted; expected an error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ncclInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Options, ParsesModeAndDegrees) {
  const Options o = parseOptions({"--mode", "hybrid", "--dp", "2", "--tp", "2", "--pp", "2",
                                  "--schedule", "gpipe", "--microbatches", "4", "--steps", "5"});
  EXPECT_EQ(o.mode, Mode::Hybrid);
  EXPECT_EQ(o.worldSize(), 8);
  EXPECT_EQ(o.schedule, PipeSchedule::GPipe);
  EXPECT_EQ(o.microbatches, 4);
  EXPECT_EQ(o.train.steps, 5);
  const Options ep = parseOptions({"--mode", "ep", "--ep", "4"});
  EXPECT_TRUE(ep.model.moe);
  EXPECT_EQ(ep.mesh.dp, 4);
  EXPECT_EQ(parseOptions({"--mode", "zero3", "--dp", "2"}).zeroStage, 3);
  EXPECT_TRUE(parseOptions({"--mode", "sp", "--tp", "2"}).sequenceParallel);
  EXPECT_EQ(parseOptions({}).train.steps, 20);
}

TEST(Options, RejectsMalformedFlags) {
  EXPECT_THROW(parseOptions({"--mode", "fsdp"}), Error);
  EXPECT_THROW(parseOptions({"--dp", "two"}), Error);
  EXPECT_THROW(parseOptions({"--tp"}), Error);
  EXPECT_THROW(parseOptions({"--schedule", "interleaved"}), Error);
  EXPECT_THROW(parseOptions({"--frobnicate"}), Error);
}

TEST(Options, NamesTheViolatedConstraint) {
  Options o = tinyOptions(Mode::Dp);
  o.mesh.dp = 2;
  expectRejected(o, 3, "dp*tp*pp*cp (2) must equal the number of ranks (3)");
  o = tinyOptions(Mode::Tp);
  o.mesh.tp = 3;
  expectRejected(o, 3, "heads (4) must be divisible by tp (3)");
  o = tinyOptions(Mode::Cp);
  o.mesh.cp = 3;
  expectRejected(o, 3, "seq (16) must be divisible by 2*cp (6)");
  o = tinyOptions(Mode::Pp);
  o.mesh.pp = 3;
  expectRejected(o, 3, "layers (4) must be divisible by pp (3)");
  o = tinyOptions(Mode::Ep);
  o.mesh.ep = 3;
  applyMode(o);
  o.train.batch = 9;
  expectRejected(o, 3, "experts (8) must be divisible by ep (3)");
  o = tinyOptions(Mode::Dp);
  o.mesh.dp = 3;
  expectRejected(o, 3, "batch (8) must be divisible by dp (3)");
  o = tinyOptions(Mode::Pp);
  o.mesh.pp = 2;
  o.microbatches = 3;
  expectRejected(o, 2, "must be divisible by microbatches (3)");
  o = tinyOptions(Mode::Tp);
  o.mesh.tp = 2;
  o.memory = overlap::Memory::Device;  // by hand: --device cuda never sets it for tp
  expectRejected(o, 2,
                 "communication buffers in device memory need --mode dp or zero3 without tp, pp, "
                 "cp or ep, got --mode tp");
}

TEST(Options, ParsesDevice) {
  const Options dp = parseOptions({"--mode", "dp", "--dp", "2", "--device", "cuda"});
  EXPECT_TRUE(dp.deviceCompute);
  EXPECT_EQ(dp.memory, overlap::Memory::Device);
  // The flag's position does not matter: the mode is applied after parsing.
  const Options zero3 = parseOptions({"--device", "cuda", "--mode", "zero3", "--dp", "2"});
  EXPECT_TRUE(zero3.deviceCompute);
  EXPECT_EQ(zero3.memory, overlap::Memory::Device);
  const Options cpu = parseOptions({"--mode", "zero3", "--dp", "2", "--device", "cpu"});
  EXPECT_FALSE(cpu.deviceCompute);
  EXPECT_EQ(cpu.memory, overlap::Memory::Host);
  const Options plain = parseOptions({"--mode", "dp", "--dp", "2"});
  EXPECT_FALSE(plain.deviceCompute);
  EXPECT_EQ(plain.memory, overlap::Memory::Host);
}

// Every mode computes on the GPU with --device cuda; only dp and zero3 without other
// degrees move their communication buffers, the rest keep them in host memory, and all
// of them validate.
TEST(Options, DeviceCudaComputesInEveryMode) {
  const std::vector<std::vector<std::string>> runs{
      {"--mode", "tp", "--tp", "2"},
      {"--mode", "sp", "--tp", "2"},
      {"--mode", "pp", "--pp", "2"},
      {"--mode", "cp", "--cp", "2"},
      {"--mode", "ep", "--ep", "2"},
      {"--mode", "zero1", "--dp", "2"},
      {"--mode", "zero2", "--dp", "2"},
      {"--mode", "dp", "--dp", "2", "--tp", "2"},
      {"--mode", "hybrid", "--dp", "2", "--tp", "2", "--pp", "2"}};
  for (std::vector<std::string> args : runs) {
    args.insert(args.end(), {"--device", "cuda", "--heads", "4", "--layers", "4", "--seq", "16",
                             "--batch", "8", "--hidden", "32"});
    const Options o = parseOptions(args);
    EXPECT_TRUE(o.deviceCompute) << args[1];
    EXPECT_EQ(o.memory, overlap::Memory::Host) << args[1];
    EXPECT_NO_THROW(validateOptions(o, o.worldSize())) << args[1];
  }
  EXPECT_EQ(parseOptions({"--mode", "single", "--device", "cuda"}).memory, overlap::Memory::Host);
}

TEST(Options, RejectsUnknownDevice) {
  try {
    parseOptions({"--device", "gpu"});
    ADD_FAILURE() << "--device gpu must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device must be cpu or cuda, got 'gpu'"),
              std::string::npos)
        << e.what();
  }
}

TEST(Options, RunWithBadMeshFailsOnEveryRank) {
  Options o = tinyOptions(Mode::Tp);
  o.mesh.tp = 3;
  try {
    testing::runRanks(o, 3);
    ADD_FAILURE() << "a tp=3 run with 4 heads started";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("heads (4) must be divisible by tp (3)"),
              std::string::npos);
  }
}

using K = PipeAction::Kind;

TEST(PipelineSchedule, GPipeRunsAllForwardsFirst) {
  const auto s = pipelineSchedule(PipeSchedule::GPipe, 2, 0, 3);
  const std::vector<PipeAction> want{{K::Forward, 0},  {K::Forward, 1},  {K::Forward, 2},
                                     {K::Backward, 0}, {K::Backward, 1}, {K::Backward, 2}};
  EXPECT_EQ(s, want);
}

TEST(PipelineSchedule, OneFOneBWarmsUpByDistanceToTheLastStage) {
  const std::vector<PipeAction> first{{K::Forward, 0},  {K::Forward, 1}, {K::Forward, 2},
                                      {K::Backward, 0}, {K::Forward, 3}, {K::Backward, 1},
                                      {K::Backward, 2}, {K::Backward, 3}};
  EXPECT_EQ(pipelineSchedule(PipeSchedule::OneFOneB, 3, 0, 4), first);
  const std::vector<PipeAction> last{{K::Forward, 0},  {K::Backward, 0}, {K::Forward, 1},
                                     {K::Backward, 1}, {K::Forward, 2},  {K::Backward, 2},
                                     {K::Forward, 3},  {K::Backward, 3}};
  EXPECT_EQ(pipelineSchedule(PipeSchedule::OneFOneB, 3, 2, 4), last);
}

TEST(PipelineSchedule, EveryMicrobatchOnceForwardBeforeBackward) {
  for (PipeSchedule kind : {PipeSchedule::GPipe, PipeSchedule::OneFOneB})
    for (int stages = 1; stages <= 5; ++stages)
      for (int stage = 0; stage < stages; ++stage)
        for (int m = 1; m <= 7; ++m) {
          std::vector<int> fwd(m, -1), bwd(m, -1);
          const auto s = pipelineSchedule(kind, stages, stage, m);
          ASSERT_EQ(s.size(), 2u * m);
          for (size_t i = 0; i < s.size(); ++i)
            (s[i].kind == K::Forward ? fwd : bwd)[s[i].microbatch] = static_cast<int>(i);
          for (int i = 0; i < m; ++i) {
            EXPECT_GE(fwd[i], 0);
            EXPECT_GT(bwd[i], fwd[i]);
            if (i > 0) {
              EXPECT_GT(bwd[i], bwd[i - 1]);  // backwards in micro-batch order
            }
          }
        }
}

}  // namespace
}  // namespace prism::train
