// Throughput of the host reduce kernel (Sum) per data type, beside a memcpy of the same
// output size as the ceiling. Bytes/s counts the output buffer only, the way the numbers in
// kernels/host/reduce.cc's comments are quoted; inputs add two more reads per element.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "base/dtype.h"
#include "kernels/host/reduce.h"

namespace {

using prism::DataType;
using prism::ReduceOp;

constexpr size_t kCount = 1 << 20;

/// Random bytes: every bit pattern appears, so the narrow-float paths see NaN, inf and
/// subnormals in realistic proportions, and no branch predictor can learn the data.
std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& byte : v) byte = static_cast<uint8_t>(rng());
  return v;
}

void BM_ReduceSum(benchmark::State& state, DataType type, size_t elemSize) {
  size_t bytes = kCount * elemSize;
  auto a = randomBytes(bytes, 1);
  auto b = randomBytes(bytes, 2);
  std::vector<uint8_t> dst(bytes);
  for (auto _ : state) {
    prism::kernels::reduce(type, ReduceOp::Sum, dst.data(), a.data(), b.data(), kCount);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_Memcpy(benchmark::State& state, size_t elemSize) {
  size_t bytes = kCount * elemSize;
  auto src = randomBytes(bytes, 1);
  std::vector<uint8_t> dst(bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

BENCHMARK_CAPTURE(BM_ReduceSum, float, DataType::Float32, 4);
BENCHMARK_CAPTURE(BM_ReduceSum, double, DataType::Float64, 8);
BENCHMARK_CAPTURE(BM_ReduceSum, int32, DataType::Int32, 4);
BENCHMARK_CAPTURE(BM_ReduceSum, half, DataType::Float16, 2);
BENCHMARK_CAPTURE(BM_ReduceSum, bfloat16, DataType::Bfloat16, 2);
BENCHMARK_CAPTURE(BM_ReduceSum, f8e4m3, DataType::Float8e4m3, 1);
BENCHMARK_CAPTURE(BM_Memcpy, bytes1, 1);
BENCHMARK_CAPTURE(BM_Memcpy, bytes2, 2);
BENCHMARK_CAPTURE(BM_Memcpy, bytes4, 4);
BENCHMARK_CAPTURE(BM_Memcpy, bytes8, 8);

}  // namespace

BENCHMARK_MAIN();
