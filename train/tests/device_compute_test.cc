// prism-train --device cuda: the CUDA matrix products are bitwise equal to the CPU loops of
// tensor.cc on awkward shapes, and training with them gives bitwise the same losses as the
// same run computing on the CPU, in every parallel mode. Skipped, with the reason, where
// no CUDA device is usable.
#include <bit>
#include <cmath>
#include <cstring>
#include <tuple>

#include "train/model/cuda/matmul_cuda.h"
#include "train/model/tensor.h"
#include "train/tests/train_harness.h"

namespace prism::train {
namespace {

using testing::runRanks;
using testing::tinyOptions;

void skipWithoutCuda() {
  const std::string why = cudaMatmulUnavailableReason();
  if (!why.empty()) GTEST_SKIP() << why;
}

std::vector<float> normals(size_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(count);
  for (float& x : v) x = rng.normal();
  return v;
}

// The first element whose bits differ, described; empty when all agree.
std::string firstDifference(const std::vector<float>& got, const std::vector<float>& want) {
  for (size_t i = 0; i < want.size(); ++i)
    if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i]))
      return "element " + std::to_string(i) + ": " + std::to_string(got[i]) + " vs CPU " +
             std::to_string(want[i]);
  return "";
}

class DeviceCompute : public ::testing::Test {
 protected:
  void SetUp() override { skipWithoutCuda(); }
};

TEST_F(DeviceCompute, ProductsAreBitwiseTheCpuLoops) {
  const std::unique_ptr<MatmulBackend> gpu = makeCudaMatmulBackend();
  ASSERT_EQ(currentMatmulBackend(), nullptr);  // the plain calls below run on the CPU
  const int dims[] = {1, 3, 7, 64, 129, 257};
  uint64_t seed = 1;
  int shapes = 0;
  for (int m : dims)
    for (int k : dims)
      for (int n : dims) {
        SCOPED_TRACE(::testing::Message() << "m " << m << " k " << k << " n " << n);
        const auto a = normals(size_t(m) * k, seed++), b = normals(size_t(k) * n, seed++);
        const auto bt = normals(size_t(n) * k, seed++), bm = normals(size_t(m) * n, seed++);
        const auto c0 = normals(size_t(m) * n, seed++), ck = normals(size_t(k) * n, seed++);
        for (bool accumulate : {false, true}) {
          std::vector<float> cpu = c0, dev = c0;
          matmul(a.data(), b.data(), cpu.data(), m, k, n, accumulate);
          gpu->matmul(a.data(), b.data(), dev.data(), m, k, n, accumulate);
          ASSERT_EQ(firstDifference(dev, cpu), "") << "matmul accumulate " << accumulate;
        }
        std::vector<float> cpu = c0, dev = c0;
        matmulBt(a.data(), bt.data(), cpu.data(), m, k, n);
        gpu->matmulBt(a.data(), bt.data(), dev.data(), m, k, n);
        ASSERT_EQ(firstDifference(dev, cpu), "") << "matmulBt";
        cpu = ck;
        dev = ck;
        matmulAt(a.data(), bm.data(), cpu.data(), m, k, n);
        gpu->matmulAt(a.data(), bm.data(), dev.data(), m, k, n);
        ASSERT_EQ(firstDifference(dev, cpu), "") << "matmulAt";
        ++shapes;
      }
  EXPECT_EQ(shapes, 216);
}

// Signed zeros and denormals pass through as on the CPU: -0 + -0 stays -0, and products
// of tiny numbers are not flushed to zero.
TEST_F(DeviceCompute, SignedZerosAndDenormalsMatch) {
  const std::unique_ptr<MatmulBackend> gpu = makeCudaMatmulBackend();
  const int m = 9, k = 17, n = 33;
  std::vector<float> a(size_t(m) * k, 0.0f), b(size_t(k) * n, -0.0f), c(size_t(m) * n, -0.0f);
  for (size_t i = 0; i < a.size(); i += 3) a[i] = 1e-20f;
  for (size_t i = 0; i < b.size(); i += 5) b[i] = -1e-20f;  // 1e-40: a denormal product
  for (bool accumulate : {false, true}) {
    std::vector<float> cpu = c, dev = c;
    matmul(a.data(), b.data(), cpu.data(), m, k, n, accumulate);
    gpu->matmul(a.data(), b.data(), dev.data(), m, k, n, accumulate);
    EXPECT_EQ(firstDifference(dev, cpu), "") << "accumulate " << accumulate;
  }
  std::vector<float> cpu(size_t(k) * n, -0.0f), dev = cpu;
  matmulAt(a.data(), c.data(), cpu.data(), m, k, n);
  gpu->matmulAt(a.data(), c.data(), dev.data(), m, k, n);
  EXPECT_EQ(firstDifference(dev, cpu), "");
  EXPECT_TRUE(std::signbit(dev[1]));  // -0 + (0 * -0) summed in order stays -0
}

struct Case {
  const char* name;
  Mode mode;
  int dp, tp, pp, ep, microbatches;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class DeviceComputeTraining : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { skipWithoutCuda(); }
};

// The same run twice, products on the GPU and on the CPU (communication buffers where
// --device cuda puts them in both): every rank's every loss is the same double.
TEST_P(DeviceComputeTraining, LossesBitwiseEqualTheCpuRun) {
  const Case& c = GetParam();
  Options gpu = tinyOptions(c.mode, 6);
  gpu.mesh.dp = c.dp;
  gpu.mesh.tp = c.tp;
  gpu.mesh.pp = c.pp;
  gpu.mesh.ep = c.ep;
  gpu.microbatches = c.microbatches;
  gpu.deviceCompute = true;
  applyMode(gpu);
  Options cpu = gpu;
  cpu.deviceCompute = false;
  const int ranks = gpu.worldSize();
  const uint64_t before = cudaMatmulOffloads();
  const auto onGpu = runRanks(gpu, ranks);
  const uint64_t offloaded = cudaMatmulOffloads() - before;
  const auto onCpu = runRanks(cpu, ranks);
  EXPECT_GT(offloaded, 0u) << "no product ran on the GPU";
  ::testing::Test::RecordProperty("gpu_products", std::to_string(offloaded));
  for (int r = 0; r < ranks; ++r) {
    ASSERT_EQ(onGpu[r].size(), onCpu[r].size());
    for (size_t i = 0; i < onCpu[r].size(); ++i)
      EXPECT_EQ(std::bit_cast<uint64_t>(onGpu[r][i].loss),
                std::bit_cast<uint64_t>(onCpu[r][i].loss))
          << "rank " << r << " step " << i << ": " << onGpu[r][i].loss << " vs CPU "
          << onCpu[r][i].loss;
  }
  // The run learns, so the comparison is not between two degenerate runs.
  EXPECT_LT(onCpu[0].back().loss, onCpu[0].front().loss);
}

INSTANTIATE_TEST_SUITE_P(Modes, DeviceComputeTraining,
                         ::testing::Values(Case{"dp2", Mode::Dp, 2, 1, 1, 1, 1},
                                           Case{"zero3_2", Mode::Zero3, 2, 1, 1, 1, 1},
                                           Case{"tp2", Mode::Tp, 1, 2, 1, 1, 1},
                                           Case{"pp2", Mode::Pp, 1, 1, 2, 1, 2},
                                           Case{"ep2", Mode::Ep, 2, 1, 1, 2, 1},
                                           Case{"hybrid2x2x2", Mode::Hybrid, 2, 2, 2, 1, 2}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace prism::train
