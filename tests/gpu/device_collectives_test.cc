// The correctness matrix on CUDA device memory, ranks as threads of this process sharing
// the GPU(s): every collective x 12 types x every operator x counts {0, 1, 7, 1021,
// 100003} (plus 1250003 float32 elements, about 4.8 MiB, past any small-message path) x in
// and out of place x roots {0, n-1}, on 1, 2, 3 and 4 ranks. Each call is enqueued on the
// rank's own stream and checked after cudaStreamSynchronize, guard bytes included.
// Skipped, with the reason, where no CUDA device is usable.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "tests/gpu/gpu_fixtures.h"
#include "tests/harness/dtype_traits.h"

namespace prism::test {
namespace {

// A prime near 1000 and an odd count near 100k: no power-of-two chunking divides them.
constexpr std::array<size_t, 5> kCounts = {0, 1, 7, 1021, 100003};
constexpr size_t kBigFloat32Count = 1250003;

DeviceScope fullScope() {
  return {{kAllDtypes.begin(), kAllDtypes.end()},
          {kAllOps.begin(), kAllOps.end()},
          {kCounts.begin(), kCounts.end()},
          kBigFloat32Count};
}

class DeviceMatrix : public CudaParamTest<int> {
 protected:
  void run(Coll coll) { runDeviceMatrix(coll, GetParam(), Mode::Threads, fullScope()); }
};

TEST_P(DeviceMatrix, AllReduce) { run(Coll::AllReduce); }
TEST_P(DeviceMatrix, Broadcast) { run(Coll::Broadcast); }
TEST_P(DeviceMatrix, Reduce) { run(Coll::Reduce); }
TEST_P(DeviceMatrix, AllGather) { run(Coll::AllGather); }
TEST_P(DeviceMatrix, ReduceScatter) { run(Coll::ReduceScatter); }
TEST_P(DeviceMatrix, AlltoAll) { run(Coll::AllToAll); }
TEST_P(DeviceMatrix, Gather) { run(Coll::Gather); }
TEST_P(DeviceMatrix, Scatter) { run(Coll::Scatter); }
TEST_P(DeviceMatrix, SendRecvRing) { run(Coll::SendRecv); }

INSTANTIATE_TEST_SUITE_P(Threads, DeviceMatrix, ::testing::Values(1, 2, 3, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "n" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace prism::test
