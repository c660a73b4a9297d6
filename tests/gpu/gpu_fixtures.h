// What every GPU test program shares: fixtures that skip (never pass) without a usable
// CUDA device, rank options that bind each rank to its device, CUDA result checks inside
// rank bodies, and the correctness matrix on device memory.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "nccl.h"
#include "tests/harness/collective_check.h"
#include "tests/harness/cuda_support.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/reference.h"

namespace prism::test {

/// Skips the test, with the reason, when this process cannot use a CUDA device. Asking
/// initializes CUDA here: programs that fork CUDA ranks use ForkedCudaTest instead.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override;
};

template <class Param>
class CudaParamTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const std::string reason = cudaUnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

/// Like CudaParamTest, but asks a forked child, so this process never initializes CUDA
/// (a CUDA context does not survive fork: the ranks forked later must create their own).
template <class Param>
class ForkedCudaParamTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const std::string reason = cudaUnavailableReasonInChild();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

/// RunOptions whose ranks make device rank % count current before ncclCommInitRank.
RunOptions deviceRunOptions();

/// Ends the rank with "<call> failed: cudaErrorX (text)" unless `e` is cudaSuccess.
void requireCuda(RankContext& ctx, cudaError_t e, const std::string& call);

/// One slice of the device correctness matrix for one collective.
using DeviceScope = MatrixScope;

/// runRanks over `scope` for `coll` with device memory; prints the time taken.
void runDeviceMatrix(Coll coll, int nranks, Mode mode, const DeviceScope& scope);

}  // namespace prism::test
