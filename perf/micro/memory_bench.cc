// The machine's copy limit, which bounds every host collective (issue 3): memcpy and the
// executor's streaming-store copy (kernels::copyStreaming) of 64 MiB buffers that no cache
// holds, on 1 and 2 threads at once. Bytes/s counts reads plus writes (2 x the size), the
// unit the limits in perf/RESULTS.md are quoted in: a 2-rank allreduce of S bytes moves at
// least 4S, so its busbw cannot exceed this figure / 4.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "kernels/host/copy.h"

namespace {

constexpr size_t kBytes = size_t{64} << 20;

/// One source and destination per thread, touched before timing so no page fault is counted.
struct Buffers {
  std::vector<char> src = std::vector<char>(kBytes, 1);
  std::vector<char> dst = std::vector<char>(kBytes, 2);
};

template <bool kStreaming>
void BM_Copy(benchmark::State& state) {
  Buffers b;
  for (auto _ : state) {
    if (kStreaming)
      prism::kernels::copyStreaming(b.dst.data(), b.src.data(), kBytes);
    else
      std::memcpy(b.dst.data(), b.src.data(), kBytes);
    benchmark::DoNotOptimize(b.dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytes * 2));
}

BENCHMARK(BM_Copy<false>)->Name("BM_Memcpy64MiB")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Copy<true>)->Name("BM_StreamingCopy64MiB")->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
