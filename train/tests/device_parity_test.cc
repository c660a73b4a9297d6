// prism-train --device cuda: data parallelism (through the bucketer) and ZeRO-3 (through the
// prefetcher) with their communication buffers in GPU memory train the same model as the
// single-rank reference: losses match within 1e-5 relative, as on the host (parity_test).
// Skipped, with the reason, where no CUDA device is usable.
#include <prism/overlap.hpp>

#include "train_harness.h"

namespace prism::train {
namespace {

using testing::expectParity;
using testing::tinyOptions;

struct Case {
  const char* name;
  Mode mode;
  int dp;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class DeviceParity : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    try {
      FloatBuffer probe(1, Memory::Device);
    } catch (const CommError& e) {
      GTEST_SKIP() << "no usable CUDA device: " << e.what();
    }
  }
};

TEST_P(DeviceParity, LossesMatchSingleRank) {
  const Case& c = GetParam();
  Options o = tinyOptions(c.mode);
  o.mesh.dp = c.dp;
  o.memory = Memory::Device;
  applyMode(o);
  expectParity(o, c.dp);
}

INSTANTIATE_TEST_SUITE_P(Modes, DeviceParity,
                         ::testing::Values(Case{"dp2", Mode::Dp, 2}, Case{"dp4", Mode::Dp, 4},
                                           Case{"zero3_2", Mode::Zero3, 2},
                                           Case{"zero3_4", Mode::Zero3, 4}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace prism::train
