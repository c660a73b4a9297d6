// The CUDA scale, divide and copy kernels against the host kernels, bit for bit, at every
// size and alignment in test_cases.h.
#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/device_reduce.h"
#include "kernels/cuda/tests/device_buffer.h"
#include "kernels/cuda/tests/test_cases.h"
#include "kernels/host/reduce.h"

namespace prism::kernels::testing {
namespace {

std::string typeName(const ::testing::TestParamInfo<DataType>& info) {
  return dataTypeName(info.param);
}

/// Unary layouts: a is the source, dst the destination (b unused).
std::string where(size_t count, const Layout& l) {
  return "count " + std::to_string(count) + ", offsets src " + std::to_string(l.a) + " dst " +
         std::to_string(l.dst) + (l.inPlace ? " (in place)" : "");
}

using UnaryFn = std::function<void(void* dst, const void* src, size_t count)>;

/// Runs `launch` for every size and layout and compares with `host`. `alt`, if set,
/// computes an equally valid host result (see compareElements).
void checkUnary(DataType type, uint64_t seed, const UnaryFn& launch, const UnaryFn& host,
                const UnaryFn& alt = nullptr) {
  size_t size = dataTypeSize(type);
  std::mt19937_64 rng(seed);
  for (size_t count : kSizes) {
    std::vector<uint8_t> src = randomElements(type, count, rng);
    size_t bytes = count * size;
    std::vector<uint8_t> want(bytes), other;
    host(want.data(), src.data(), count);
    if (alt) {
      other.resize(bytes);
      alt(other.data(), src.data(), count);
    }
    DeviceBuffer ds(bytes + 16), dd(bytes + 16);
    for (const Layout& l : layoutsFor(size)) {
      SCOPED_TRACE(where(count, l));
      dd.fill(0xa5);
      (l.inPlace ? dd : ds).upload(l.inPlace ? l.dst : l.a, src);
      launch(dd.at(l.dst), l.inPlace ? dd.at(l.dst) : ds.at(l.a), count);
      syncDevice();
      std::string diff = compareElements(type, dd.download(l.dst, bytes), want, other);
      EXPECT_TRUE(diff.empty()) << diff;
    }
  }
}

class DeviceUnaryTest : public CudaParamTest<DataType> {};

// Factors: all bits set (NaN for floats, -1 for signed integers), zero, and random patterns
// (which include infinities, NaNs and subnormals). With a NaN factor and a NaN element the
// host keeps either NaN, so a Prod with the factor as first operand is also accepted.
TEST_P(DeviceUnaryTest, ScaleMatchesHost) {
  DataType type = GetParam();
  size_t size = dataTypeSize(type);
  std::mt19937_64 rng(static_cast<uint64_t>(type) + 7);
  std::vector<std::vector<uint8_t>> factors = {std::vector<uint8_t>(size, 0xff),
                                               std::vector<uint8_t>(size, 0)};
  for (int i = 0; i < 6; ++i) factors.push_back(randomElements(type, 1, rng));
  for (size_t f = 0; f < factors.size(); ++f) {
    const std::vector<uint8_t>& factor = factors[f];
    SCOPED_TRACE("factor " + std::to_string(f));
    auto host = [&](void* dst, const void* src, size_t n) {
      scale(type, dst, src, factor.data(), n);
    };
    auto alt = [&](void* dst, const void* src, size_t n) {
      std::vector<uint8_t> splat(n * size);
      for (size_t i = 0; i < n; ++i) std::memcpy(&splat[i * size], factor.data(), size);
      reduce(type, ReduceOp::Prod, dst, splat.data(), src, n);
    };
    auto launch = [&](void* dst, const void* src, size_t n) {
      launchScale(type, dst, src, factor.data(), n, nullptr);
    };
    checkUnary(type, 100 + f, launch, host, alt);
  }
}

TEST_P(DeviceUnaryTest, DivideMatchesHost) {
  DataType type = GetParam();
  for (int divisor : {1, 3, 8, 1000003, INT_MAX}) {
    SCOPED_TRACE("divisor " + std::to_string(divisor));
    auto host = [&](void* dst, const void* src, size_t n) { divide(type, dst, src, divisor, n); };
    auto launch = [&](void* dst, const void* src, size_t n) {
      launchDivide(type, dst, src, divisor, n, nullptr);
    };
    checkUnary(type, 200 + static_cast<uint64_t>(divisor), launch, host);
  }
}

TEST_P(DeviceUnaryTest, CopyAndDualCopyMatchSource) {
  DataType type = GetParam();
  size_t size = dataTypeSize(type);
  auto host = [&](void* dst, const void* src, size_t n) { std::memcpy(dst, src, n * size); };
  checkUnary(
      type, 300,
      [&](void* dst, const void* src, size_t n) { launchCopy(dst, src, n * size, nullptr); }, host);
  // The second destination 1 byte off the first: the copy falls back to bytes.
  DeviceBuffer second((kSizes.back() + 2) * size);
  checkUnary(
      type, 301,
      [&](void* dst, const void* src, size_t n) {
        second.fill(0);
        launchDualCopy(dst, second.at(1), src, n * size, nullptr);
        syncDevice();
        std::vector<uint8_t> a(n * size), b = second.download(1, n * size);
        ASSERT_EQ(cudaMemcpy(a.data(), dst, n * size, cudaMemcpyDeviceToHost), cudaSuccess);
        ASSERT_EQ(a, b);
      },
      host);
}

TEST_P(DeviceUnaryTest, DivideRejectsNonPositiveDivisor) {
  DeviceBuffer buf(16);
  EXPECT_ANY_THROW(launchDivide(GetParam(), buf.at(0), buf.at(0), 0, 1, nullptr));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DeviceUnaryTest, ::testing::ValuesIn(kAllTypes), typeName);

}  // namespace
}  // namespace prism::kernels::testing
