// prism-train --device cuda: data parallelism (through the bucketer) and ZeRO-3 (through the
// prefetcher) with their communication buffers in GPU memory, and modes whose matrix
// products run on the GPU, train the same model as the single-rank reference: losses match
// within 1e-5 relative, as on the host (parity_test). Skipped, with the reason, where no
// CUDA device is usable.
#include "train/model/cuda/matmul_cuda.h"
#include "train/overlap/tensor.hpp"
#include "train/tests/train_harness.h"

namespace prism::train {
namespace {

using testing::expectParity;
using testing::tinyOptions;

struct Case {
  const char* name;
  Mode mode;
  int dp;
  int tp = 1;
  bool buffers = true;   ///< communication buffers in device memory
  bool compute = false;  ///< matrix products on the GPU
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class DeviceParity : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    try {
      overlap::Buffer probe(1, ncclFloat32, overlap::Memory::Device);
    } catch (const CommError& e) {
      GTEST_SKIP() << "no usable CUDA device: " << e.what();
    }
    const std::string why = cudaMatmulUnavailableReason();
    if (GetParam().compute && !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_P(DeviceParity, LossesMatchSingleRank) {
  const Case& c = GetParam();
  Options o = tinyOptions(c.mode);
  o.mesh.dp = c.dp;
  o.mesh.tp = c.tp;
  o.memory = c.buffers ? overlap::Memory::Device : overlap::Memory::Host;
  o.deviceCompute = c.compute;
  applyMode(o);
  expectParity(o, o.worldSize());
}

INSTANTIATE_TEST_SUITE_P(Modes, DeviceParity,
                         ::testing::Values(Case{"dp2", Mode::Dp, 2}, Case{"dp4", Mode::Dp, 4},
                                           Case{"zero3_2", Mode::Zero3, 2},
                                           Case{"zero3_4", Mode::Zero3, 4},
                                           Case{"dp2_compute", Mode::Dp, 2, 1, true, true},
                                           Case{"zero3_4_compute", Mode::Zero3, 4, 1, true, true},
                                           Case{"tp2_compute", Mode::Tp, 1, 2, false, true}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace prism::train
