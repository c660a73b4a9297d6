// The CUDA reduce and reduce-copy kernels against the host kernels (the CPU reference),
// bit for bit: every type and op, on random bit patterns, at every size and alignment in
// test_cases.h, plus every pair of fp8 values.
#include "kernels/cuda/device_reduce.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cuda/tests/device_buffer.h"
#include "kernels/cuda/tests/test_cases.h"
#include "kernels/host/reduce.h"

namespace prism::kernels::testing {
namespace {

bool commutes(ReduceOp op) { return op == ReduceOp::Sum || op == ReduceOp::Prod; }

/// The host's result for a op b, and for Sum/Prod its result with the operands swapped.
struct HostResult {
  std::vector<uint8_t> want;
  std::vector<uint8_t> alt;
};

HostResult hostReduce(DataType type, ReduceOp op, const std::vector<uint8_t>& a,
                      const std::vector<uint8_t>& b) {
  size_t count = a.size() / dataTypeSize(type);
  HostResult r{std::vector<uint8_t>(a.size()), {}};
  reduce(type, op, r.want.data(), a.data(), b.data(), count);
  if (commutes(op)) {
    r.alt.resize(a.size());
    reduce(type, op, r.alt.data(), b.data(), a.data(), count);
  }
  return r;
}

std::string where(size_t count, const Layout& l) {
  return "count " + std::to_string(count) + ", offsets a " + std::to_string(l.a) + " b " +
         std::to_string(l.b) + " dst " + std::to_string(l.dst) + (l.inPlace ? " (in place)" : "");
}

using TypeOp = std::tuple<DataType, ReduceOp>;

class DeviceReduceTest : public CudaParamTest<TypeOp> {};

TEST_P(DeviceReduceTest, MatchesHostBitForBit) {
  auto [type, op] = GetParam();
  size_t size = dataTypeSize(type);
  std::mt19937_64 rng(static_cast<uint64_t>(type) * 131 + static_cast<uint64_t>(op));
  for (size_t count : kSizes) {
    std::vector<uint8_t> a = randomElements(type, count, rng);
    std::vector<uint8_t> b = relatedElements(type, a, rng);
    HostResult host = hostReduce(type, op, a, b);
    size_t bytes = count * size;
    DeviceBuffer da(bytes + 16), db(bytes + 16), dd(bytes + 16);
    for (const Layout& l : layoutsFor(size)) {
      SCOPED_TRACE(where(count, l));
      dd.fill(0xa5);
      db.upload(l.b, b);
      (l.inPlace ? dd : da).upload(l.inPlace ? l.dst : l.a, a);
      const void* srcA = l.inPlace ? dd.at(l.dst) : da.at(l.a);
      launchReduce(type, op, dd.at(l.dst), srcA, db.at(l.b), count, nullptr);
      syncDevice();
      std::string diff = compareElements(type, dd.download(l.dst, bytes), host.want, host.alt);
      EXPECT_TRUE(diff.empty()) << diff;
    }
  }
}

// dst1 = dst2 = a op b, with the two outputs at equal and at different misalignments.
TEST_P(DeviceReduceTest, ReduceCopyWritesBothOutputs) {
  auto [type, op] = GetParam();
  size_t size = dataTypeSize(type);
  std::mt19937_64 rng(static_cast<uint64_t>(type) * 977 + static_cast<uint64_t>(op));
  for (size_t count : kSizes) {
    std::vector<uint8_t> a = randomElements(type, count, rng);
    std::vector<uint8_t> b = relatedElements(type, a, rng);
    HostResult host = hostReduce(type, op, a, b);
    size_t bytes = count * size;
    DeviceBuffer da(bytes + 16), db(bytes + 16), d1(bytes + 16), d2(bytes + 16);
    da.upload(size, a);
    db.upload(size, b);
    for (size_t off2 : {size, 16 - size}) {
      SCOPED_TRACE("count " + std::to_string(count) + ", dst2 offset " + std::to_string(off2));
      d1.fill(0xa5);
      d2.fill(0x5a);
      launchReduceCopy(type, op, d1.at(size), d2.at(off2), da.at(size), db.at(size), count,
                       nullptr);
      syncDevice();
      std::string diff1 = compareElements(type, d1.download(size, bytes), host.want, host.alt);
      EXPECT_TRUE(diff1.empty()) << "dst1: " << diff1;
      std::string diff2 = compareElements(type, d2.download(off2, bytes), host.want, host.alt);
      EXPECT_TRUE(diff2.empty()) << "dst2: " << diff2;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypesAndOps, DeviceReduceTest,
                         ::testing::Combine(::testing::ValuesIn(kAllTypes),
                                            ::testing::Values(ReduceOp::Sum, ReduceOp::Prod,
                                                              ReduceOp::Max, ReduceOp::Min)),
                         [](const ::testing::TestParamInfo<TypeOp>& info) {
                           return std::string(dataTypeName(std::get<0>(info.param))) + "_" +
                                  opName(std::get<1>(info.param));
                         });

class DeviceFp8PairsTest : public CudaParamTest<TypeOp> {};

// Every (a, b) pair of 8-bit patterns: all conversions, roundings and saturations.
TEST_P(DeviceFp8PairsTest, EveryPairMatchesHost) {
  auto [type, op] = GetParam();
  constexpr size_t kPairs = 256 * 256;
  std::vector<uint8_t> a(kPairs), b(kPairs);
  for (size_t i = 0; i < kPairs; ++i) {
    a[i] = static_cast<uint8_t>(i);
    b[i] = static_cast<uint8_t>(i >> 8);
  }
  HostResult host = hostReduce(type, op, a, b);
  DeviceBuffer da(kPairs), db(kPairs), dd(kPairs);
  da.upload(0, a);
  db.upload(0, b);
  launchReduce(type, op, dd.at(0), da.at(0), db.at(0), kPairs, nullptr);
  syncDevice();
  std::string diff = compareElements(type, dd.download(0, kPairs), host.want, host.alt);
  EXPECT_TRUE(diff.empty()) << diff;
}

INSTANTIATE_TEST_SUITE_P(Fp8, DeviceFp8PairsTest,
                         ::testing::Combine(::testing::Values(DataType::Float8e4m3,
                                                              DataType::Float8e5m2),
                                            ::testing::Values(ReduceOp::Sum, ReduceOp::Prod,
                                                              ReduceOp::Max, ReduceOp::Min)),
                         [](const ::testing::TestParamInfo<TypeOp>& info) {
                           return std::string(dataTypeName(std::get<0>(info.param))) + "_" +
                                  opName(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace prism::kernels::testing
