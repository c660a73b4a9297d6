// A subset of the device correctness matrix with every rank in its own forked process, as
// ranks of separate programs sharing a GPU are: six collectives x {float32, bfloat16,
// int32} x every operator x counts {0, 7, 1021, 100003} x in and out of place, on 2 and 3
// ranks.
//
// This program's own process never initializes CUDA (a CUDA context does not survive
// fork): whether a device exists is asked by a forked probe, and every CUDA call runs in
// the rank processes.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "tests/gpu/gpu_fixtures.h"

namespace prism::test {
namespace {

DeviceScope processScope() {
  return {{ncclFloat32, ncclBfloat16, ncclInt32},
          {kAllOps.begin(), kAllOps.end()},
          {0, 7, 1021, 100003},
          0};
}

using CollRanks = std::tuple<Coll, int>;

class DeviceProcessMatrix : public ForkedCudaParamTest<CollRanks> {};

TEST_P(DeviceProcessMatrix, Matches) {
  const auto [coll, nranks] = GetParam();
  runDeviceMatrix(coll, nranks, Mode::Processes, processScope());
}

INSTANTIATE_TEST_SUITE_P(Processes, DeviceProcessMatrix,
                         ::testing::Combine(::testing::Values(Coll::AllReduce, Coll::AllGather,
                                                              Coll::ReduceScatter, Coll::AllToAll,
                                                              Coll::Broadcast, Coll::SendRecv),
                                            ::testing::Values(2, 3)),
                         [](const ::testing::TestParamInfo<CollRanks>& info) {
                           return std::string(collectiveName(std::get<0>(info.param))) + "_n" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace prism::test
