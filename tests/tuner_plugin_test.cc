// NCCL tuner plugins (src/comm/tuner.h) through the public API on thread ranks, with the
// independent test tuner of tests/plugins/tuner: each ABI version's forced choice is the
// algorithm that runs, on every call, with exact results; an answer Prism cannot follow,
// PRISM_ALGO, and a plugin that is missing, lacks the symbol or fails init each leave the
// choice to Prism with a log line saying why, and the collective still runs correctly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.h"
#include "src/api/handle.h"
#include "src/comm/communicator.h"
#include "tests/harness/collective_check.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/route_check.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

using prism::testing::ScopedEnv;

/// 16 KiB of floats, odd: thread ranks take the direct path here unless a tuner says
/// otherwise, and every schedule's blocks have tails.
constexpr size_t kCount = 4099;

std::string pluginFile(const std::string& file) {
  return std::string(PRISM_TEST_PLUGIN_DIR) + "/" + file;
}

/// Runs one checked call of the checker's collective (exact results against the
/// harness's independent reference); returns the plan algorithm it ran, else "direct" or
/// "other" for the path it took.
std::string runOnce(RankContext& ctx, CollectiveChecker& checker) {
  Communicator& comm = ctx.comm->get();
  const uint64_t plans = comm.routedTo(Path::Plan);
  const uint64_t direct = comm.routedTo(Path::Direct);
  checker.run(kCount, /*inPlace=*/false, /*root=*/0);
  if (comm.routedTo(Path::Plan) == plans + 1) return comm.planner().lastAlgorithm();
  return comm.routedTo(Path::Direct) == direct + 1 ? "direct" : "other";
}

/// Runs `coll` once per entry of `expected` on `nranks` thread ranks; call i must run
/// expected[i] ("" accepts any) and give the reference's result.
void expectRuns(Coll coll, int nranks, const std::vector<std::string>& expected) {
  RunOptions options;
  options.sharedBytes = checkerSharedBytes(coll, nranks, kCount);
  runRanks(
      nranks, Mode::Threads,
      [&](RankContext& ctx) {
        CollectiveChecker checker(ctx, coll, kCount);
        checker.prepare(ncclFloat32, isReducing(coll) ? std::optional(RefOp::Sum) : std::nullopt);
        for (size_t i = 0; i < expected.size(); ++i) {
          const std::string ran = runOnce(ctx, checker);
          ctx.expect(expected[i].empty() || ran == expected[i],
                     checker.describe(kCount, false, 0) + " call " + std::to_string(i) + " ran " +
                         ran + ", expected " + expected[i]);
        }
      },
      options);
}

/// Points the log (WARN, and INFO for TUNING and INIT) at a file of the test's own.
class TunerLog : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/prism_tuner_log_XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = path;
    debug_.emplace("PRISM_DEBUG", "INFO");
    subsys_.emplace("PRISM_DEBUG_SUBSYS", "TUNING,INIT");
    file_.emplace("PRISM_DEBUG_FILE", path_.c_str());
    log::reset();
  }
  void TearDown() override {
    debug_.reset();
    subsys_.reset();
    file_.reset();
    log::reset();
    unlink(path_.c_str());
  }

 public:
  /// The lines of the log that contain `text`.
  std::vector<std::string> lines(const std::string& text) const {
    std::ifstream in(path_);
    std::vector<std::string> found;
    for (std::string line; std::getline(in, line);) {
      if (line.find(text) != std::string::npos) found.push_back(line);
    }
    return found;
  }
  std::string all() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 protected:
  std::string path_;
  std::optional<ScopedEnv> debug_, subsys_, file_;
};

// Each ABI version forcing each mappable algorithm, on 3 and 4 ranks.
struct Forced {
  const char* library;  ///< file in PRISM_TEST_PLUGIN_DIR
  const char* algo;     ///< PRISMTEST_TUNER_ALGO
  const char* proto;    ///< PRISMTEST_TUNER_PROTO
  Coll coll;
  const char* expected;  ///< the Prism algorithm that must run
  int nranks;
};

std::vector<Forced> forcedCases() {
  std::vector<Forced> cases;
  for (const char* library : {"libnccl-tuner-prismtest.so", "libnccl-tuner-prismtest3.so",
                              "libnccl-tuner-prismtest2.so"}) {
    for (int n : {3, 4}) {
      cases.push_back({library, "ring", "simple", Coll::AllReduce, "ring", n});
      cases.push_back({library, "tree", "simple", Coll::AllReduce, "double_binary_tree", n});
      cases.push_back({library, "ring", "simple", Coll::AllGather, "ring", n});
      cases.push_back({library, "pat", "simple", Coll::AllGather, "pat", n});
    }
  }
  // Prism has one host protocol: a tuner's LL or LL128 is logged and its algorithm runs.
  cases.push_back(
      {"libnccl-tuner-prismtest.so", "tree", "ll", Coll::AllReduce, "double_binary_tree", 3});
  cases.push_back({"libnccl-tuner-prismtest2.so", "ring", "ll128", Coll::AllGather, "ring", 4});
  return cases;
}

void PrintTo(const Forced& c, std::ostream* out) {
  *out << c.library << " " << c.algo << "/" << c.proto << " " << collectiveName(c.coll) << " on "
       << c.nranks << " ranks";
}

std::string forcedName(const ::testing::TestParamInfo<Forced>& info) {
  std::string library = info.param.library;
  library = library.substr(std::string("libnccl-tuner-").size());
  library = library.substr(0, library.find('.'));
  return library + "_" + info.param.algo + "_" + info.param.proto + "_" +
         collectiveName(info.param.coll) + "_n" + std::to_string(info.param.nranks);
}

class TunerForces : public TunerLog, public ::testing::WithParamInterface<Forced> {};

TEST_P(TunerForces, ItsChoiceRunsWithExactResults) {
  const Forced& c = GetParam();
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile(c.library).c_str());
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", c.algo);
  ScopedEnv proto("PRISMTEST_TUNER_PROTO", c.proto);
  expectRuns(c.coll, c.nranks, {c.expected, c.expected});
  // Every call's answer is logged, on every rank.
  EXPECT_EQ(lines(std::string(" = ") + c.expected).size(), static_cast<size_t>(2 * c.nranks))
      << all();
}

INSTANTIATE_TEST_SUITE_P(Versions, TunerForces, ::testing::ValuesIn(forcedCases()), forcedName);

TEST_F(TunerLog, ItIsAskedEveryCallAndAChangedAnswerTakesEffect) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-prismtest.so").c_str());
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", "tree,ring");
  // The same call four times: a repeated call replays its plan unless the answer changed.
  expectRuns(Coll::AllReduce, 3, {"double_binary_tree", "ring", "double_binary_tree", "ring"});
  EXPECT_EQ(lines("tuner prismtest: AllReduce 16396 B -> TREE/SIMPLE = double_binary_tree").size(),
            6u)
      << all();
  EXPECT_EQ(lines("tuner prismtest: AllReduce 16396 B -> RING/SIMPLE = ring").size(), 6u) << all();
}

TEST_F(TunerLog, EveryRoadAsksTheTuner) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-prismtest.so").c_str());
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", "ring");
  // A lone call, a group, a group with point-to-point messages and a native call: each
  // takes the plan the tuner chose where Prism alone would take the direct path.
  runRanks(3, Mode::Threads,
           [](RankContext& ctx) { requireEveryRoadTakes(ctx, Path::Plan, kCount); });
  EXPECT_EQ(lines("tuner prismtest: AllReduce 16396 B -> RING/SIMPLE = ring").size(), 4u * 3)
      << all();
}

TEST_F(TunerLog, AnAnswerPrismCannotRunFallsBackWithAReason) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-prismtest.so").c_str());
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", "nvls,collnet_direct,tree");
  // AllGather has no TREE in NCCL nor a double binary tree in Prism.
  expectRuns(Coll::AllGather, 3, {"", "", ""});
  EXPECT_EQ(lines("NVLS/SIMPLE, which Prism cannot run: no NVLink SHARP on host memory; Prism's "
                  "own choice")
                .size(),
            3u)
      << all();
  EXPECT_EQ(lines("COLLNET_DIRECT/SIMPLE, which Prism cannot run: no in-network service").size(),
            3u)
      << all();
  EXPECT_EQ(lines("TREE/SIMPLE, which Prism cannot run: Prism's counterpart does not run").size(),
            3u)
      << all();
}

TEST_F(TunerLog, NoOpinionKeepsPrismsOwnPath) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-prismtest3.so").c_str());
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", nullptr);
  expectRuns(Coll::AllReduce, 4, {"direct"});
  EXPECT_EQ(lines("tuner prismtest3: AllReduce 16396 B -> no opinion; Prism's own choice").size(),
            4u)
      << all();
}

TEST_F(TunerLog, PrismAlgoOverridesTheTuner) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-prismtest.so").c_str());
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", "tree");
  ScopedEnv forced("PRISM_ALGO", "ring");
  expectRuns(Coll::AllReduce, 3, {"ring"});
  EXPECT_EQ(
      lines("TREE/SIMPLE = double_binary_tree, overridden by PRISM_ALGO / NCCL_ALGO 'ring'").size(),
      3u)
      << all();
}

TEST_F(TunerLog, ThePrismAlgoListLeavesTheTunerItsChoice) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-prismtest2.so").c_str());
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", "tree");
  ScopedEnv forced("NCCL_ALGO", "ring,double_binary_tree");
  expectRuns(Coll::AllReduce, 4, {"double_binary_tree"});
}

TEST_F(TunerLog, ABareNameIsFoundByNcclsRules) {
  // NCCL_TUNER_PLUGIN=prismtest: libnccl-tuner-prismtest.so, found on the test's run path.
  ScopedEnv plugin("NCCL_TUNER_PLUGIN", "prismtest");
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", "ring");
  expectRuns(Coll::AllReduce, 3, {"ring"});
  EXPECT_FALSE(lines("(ncclTunerPlugin_v5) loaded from").empty()) << all();
}

TEST_F(TunerLog, WithoutATunerLibraryTheNetworkPluginsLibraryIsAsked) {
  // No tuner setting and no libnccl-tuner.so: NCCL looks in the network plugin's library.
  ScopedEnv unset("PRISM_TUNER_PLUGIN", nullptr);
  ScopedEnv unsetAlias("NCCL_TUNER_PLUGIN", nullptr);
  ScopedEnv net("PRISM_NET_PLUGIN", pluginFile("libnccl-tuner-prismtest.so").c_str());
  ScopedEnv algo("PRISMTEST_TUNER_ALGO", "ring");
  expectRuns(Coll::AllReduce, 3, {"ring"});
  EXPECT_FALSE(lines("loaded from " + pluginFile("libnccl-tuner-prismtest.so")).empty()) << all();
}

TEST_F(TunerLog, ANetworkPluginWithoutATunerIsNoReasonToWarn) {
  ScopedEnv unset("PRISM_TUNER_PLUGIN", nullptr);
  ScopedEnv unsetAlias("NCCL_TUNER_PLUGIN", nullptr);
  ScopedEnv net("PRISM_NET_PLUGIN", pluginFile("libnccl-tuner-nosymbol.so").c_str());
  expectRuns(Coll::AllReduce, 3, {"direct"});
  EXPECT_TRUE(lines(" PRISM WARN tuner").empty()) << all();
  EXPECT_FALSE(lines("no tuner plugin in").empty()) << all();
}

/// A plugin that cannot be used: the WARN names why, and Prism's own path runs correctly.
void expectFallback(const TunerLog& log, const std::string& reason) {
  expectRuns(Coll::AllReduce, 3, {"direct"});
  expectRuns(Coll::AllGather, 4, {""});
  const std::vector<std::string> warns = log.lines(" PRISM WARN tuner plugin");
  ASSERT_FALSE(warns.empty()) << log.all();
  EXPECT_NE(warns.front().find(reason), std::string::npos) << warns.front();
}

TEST_F(TunerLog, AMissingLibraryWarnsAndPrismSelects) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-missing.so").c_str());
  expectFallback(*this, "cannot be loaded: " + pluginFile("libnccl-tuner-missing.so") +
                            ": cannot open shared object file");
  EXPECT_EQ(lines(" PRISM WARN ").size(), 1u) << "one WARN per process: " << all();
}

TEST_F(TunerLog, ALibraryWithoutTheSymbolWarnsAndPrismSelects) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-nosymbol.so").c_str());
  expectFallback(*this, "exports none of ncclTunerPlugin_v5, _v4, _v3, _v2");
}

TEST_F(TunerLog, AFailedInitWarnsAndPrismSelects) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", pluginFile("libnccl-tuner-initfails.so").c_str());
  expectFallback(*this, "init failed (ncclResult_t 3)");
  // The plugin's own line came through the logger Prism handed it, under TUNING.
  EXPECT_FALSE(lines("PRISM INFO plugin: prismtest tuner: init fails on purpose").empty()) << all();
}

TEST_F(TunerLog, NoneLoadsNothingAndWarnsNothing) {
  ScopedEnv plugin("PRISM_TUNER_PLUGIN", "none");
  expectRuns(Coll::AllReduce, 3, {"direct"});
  EXPECT_TRUE(lines(" PRISM WARN ").empty()) << all();
  EXPECT_FALSE(lines("tuner plugin disabled").empty()) << all();
}

}  // namespace
}  // namespace prism::test
