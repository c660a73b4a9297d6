// What moving 1 MiB from one core to another costs on this machine, without Prism's
// executor: the shared-memory FIFO pattern (a producer copies into eight 128 KiB slots, a
// consumer copies out, as the shm transport does), the same with the producer's streaming
// stores, cross-memory attach (process_vm_readv, Open MPI's single-copy path) and a plain
// memcpy on one core, each per 1 MiB. On these VMs the FIFO figures swing by up to 3x from
// one minute to the next while the other two hold (perf/RESULTS.md, "1 MiB and the VM's
// two states"), which is why 1 MiB ratios against Open MPI move with the time of day.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <vector>

#include "kernels/host/copy.h"

namespace {

constexpr size_t kMessage = size_t{1} << 20;
constexpr size_t kSlot = size_t{128} << 10;
constexpr size_t kSlots = 8;

/// One single-producer, single-consumer FIFO shared by the benchmark's two threads.
struct Fifo {
  alignas(64) std::atomic<uint64_t> head{0};  ///< slots committed by the producer
  alignas(64) std::atomic<uint64_t> tail{0};  ///< slots released by the consumer
  std::vector<char> slots = std::vector<char>(kSlot * kSlots, 0);
};

Fifo& fifo() {
  static Fifo f;
  return f;
}

template <bool kStreamingProducer>
void BM_SlotHandover(benchmark::State& state) {
  Fifo& f = fifo();
  std::vector<char> buffer(kMessage, static_cast<char>(state.thread_index() + 1));
  const bool producer = state.thread_index() == 0;
  // Each thread counts its own slots; both start from what the FIFO holds now.
  uint64_t next = producer ? f.head.load() : f.tail.load();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    for (size_t off = 0; off < kMessage; off += kSlot, ++next) {
      char* slot = f.slots.data() + (next % kSlots) * kSlot;
      if (producer) {
        while (next - f.tail.load(std::memory_order_acquire) >= kSlots) {
        }
        if (kStreamingProducer) {
          prism::kernels::copyStreaming(slot, buffer.data() + off, kSlot);
        } else {
          std::memcpy(slot, buffer.data() + off, kSlot);
        }
        f.head.store(next + 1, std::memory_order_release);
      } else {
        while (f.head.load(std::memory_order_acquire) <= next) {
        }
        std::memcpy(buffer.data() + off, slot, kSlot);
        f.tail.store(next + 1, std::memory_order_release);
      }
    }
  }
  // Both threads run the same number of iterations, so the FIFO ends empty. The counter
  // is the wall time per message as the producer saw it (Google Benchmark's own columns
  // for a two-thread benchmark count each thread's iterations).
  if (producer) {
    const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
    state.counters["us_per_MiB"] = took.count() / static_cast<double>(state.iterations());
  }
}

/// Private anonymous pages of `bytes`, filled with `value`: what malloc returns for a
/// large buffer while glibc's mmap threshold is low. A std::vector taken from the heap
/// instead (the threshold rises once mapped chunks are freed) was read by cross-memory
/// attach several times slower (perf/history); why was not looked into.
char* mapped(size_t bytes, char value) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  std::memset(p, value, bytes);
  return static_cast<char*>(p);
}

// Reads the source from a forked child, as a rank reads its peer's buffer.
void BM_CrossMemoryAttach(benchmark::State& state) {
  char* src = mapped(kMessage, 1);
  char* dst = mapped(kMessage, 2);
  if (src == nullptr || dst == nullptr) {
    state.SkipWithError("mmap failed");
    return;
  }
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  for (auto _ : state) {
    iovec local{dst, kMessage};
    iovec remote{src, kMessage};
    if (process_vm_readv(child, &local, 1, &remote, 1, 0) != static_cast<ssize_t>(kMessage)) {
      state.SkipWithError("process_vm_readv failed (ptrace_scope?)");
      break;
    }
    benchmark::ClobberMemory();
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  munmap(src, kMessage);
  munmap(dst, kMessage);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMessage));
}

void BM_Memcpy(benchmark::State& state) {
  std::vector<char> src(kMessage, 1), dst(kMessage, 2);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kMessage);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMessage));
}

BENCHMARK(BM_SlotHandover<false>)->Name("BM_SlotHandover1MiB")->Threads(2)->UseRealTime();
BENCHMARK(BM_SlotHandover<true>)->Name("BM_SlotHandoverStreaming1MiB")->Threads(2)->UseRealTime();
BENCHMARK(BM_CrossMemoryAttach)->Name("BM_CrossMemoryAttach1MiB")->UseRealTime();
BENCHMARK(BM_Memcpy)->Name("BM_Memcpy1MiB")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
