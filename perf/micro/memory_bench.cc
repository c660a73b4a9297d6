// The machine's copy limit, which bounds every host collective (issue 3): memcpy and the
// executor's streaming-store copy (kernels::copyStreaming) on 1 and 2 threads at once.
// Bytes/s counts reads plus writes (2 x the size), the unit the limits in perf/RESULTS.md
// are quoted in. 64 MiB buffers fit no cache: a 2-rank allreduce of S bytes moves at least
// 4S, so its busbw cannot exceed that figure / 4. 1, 4 and 8 MiB per thread are about the
// working sets of the 1-16 MiB movement collectives (an 8 MiB allgather's rank reads 4 MiB
// and writes 8), which caches partly hold: the per-core speed those can reach.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "kernels/host/copy.h"

namespace {

/// One source and destination per thread, touched before timing so no page fault is counted.
struct Buffers {
  explicit Buffers(size_t bytes) : src(bytes, 1), dst(bytes, 2) {}
  std::vector<char> src;
  std::vector<char> dst;
};

/// Copies range(0) MiB per iteration on each thread.
template <bool kStreaming>
void BM_Copy(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  Buffers b(bytes);
  for (auto _ : state) {
    if (kStreaming)
      prism::kernels::copyStreaming(b.dst.data(), b.src.data(), bytes);
    else
      std::memcpy(b.dst.data(), b.src.data(), bytes);
    benchmark::DoNotOptimize(b.dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes * 2));
}

/// 1, 4, 8 and 64 MiB on 1 and 2 threads, timed by the clock (threads copy at once).
void sizesAndThreads(benchmark::internal::Benchmark* b) {
  b->ArgName("MiB")->Arg(1)->Arg(4)->Arg(8)->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
}

BENCHMARK(BM_Copy<false>)->Name("BM_Memcpy")->Apply(sizesAndThreads);
BENCHMARK(BM_Copy<true>)->Name("BM_StreamingCopy")->Apply(sizesAndThreads);

}  // namespace

BENCHMARK_MAIN();
