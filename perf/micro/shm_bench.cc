// The shared-memory transport on its own, between two threads of this process (the same
// FIFOs, slots and cache lines as between processes): ping-pong latency and streaming
// bandwidth per message size, both polling, the way a collective's executor drives it.
//   BM_ShmPingPong/N: rank 0 sends N bytes, rank 1 sends them back; the reported time is one
//     round trip, `one_way_us` half of it.
//   BM_ShmStream/N: rank 0 sends 16 MiB as N-byte messages, rank 1 copies each out of its
//     slot into a buffer (what a receive does) and answers with a one-byte acknowledgement
//     at the end, so the time covers delivery, not just the sends.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/setup_channel.h"
#include "transports/transport.h"

namespace {

using prism::RecvConnection;
using prism::SendConnection;
using prism::Transport;

/// Two threads exchanging setup records through memory.
class PairSetup {
 public:
  class Channel final : public prism::SetupChannel {
   public:
    Channel(PairSetup& pair, int rank) : pair_(pair), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return 2; }
    void allGather(const void* mine, void* all, size_t bytes) override {
      pair_.allGather(rank_, mine, all, bytes);
    }

   private:
    PairSetup& pair_;
    int rank_;
  };

  void allGather(int rank, const void* mine, void* all, size_t bytes) {
    std::unique_lock lock(mutex_);
    const unsigned generation = generation_;
    slots_[rank].assign(static_cast<const char*>(mine), static_cast<const char*>(mine) + bytes);
    if (++arrived_ == 2) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
    for (int r = 0; r < 2; ++r)
      std::memcpy(static_cast<char*>(all) + r * bytes, slots_[r].data(), bytes);
    // Both must have copied before either may overwrite its record in a later round.
    if (++copied_ == 2) {
      copied_ = 0;
      ++copyGeneration_;
      cv_.notify_all();
    } else {
      const unsigned g = copyGeneration_;
      cv_.wait(lock, [&] { return copyGeneration_ != g; });
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<char> slots_[2];
  int arrived_ = 0, copied_ = 0;
  unsigned generation_ = 0, copyGeneration_ = 0;
};

/// A transport pair: `self` here, `peer` created by the partner thread.
struct Pair {
  std::unique_ptr<Transport> self, peer;
};

Pair makePair() {
  static std::atomic<int> counter{0};
  prism::ShmTransportOptions options;
  options.name = "bench-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  PairSetup setup;
  Pair pair;
  std::thread partner([&] {
    PairSetup::Channel channel(setup, 1);
    pair.peer = prism::createShmTransport(channel, options);
  });
  PairSetup::Channel channel(setup, 0);
  pair.self = prism::createShmTransport(channel, options);
  partner.join();
  return pair;
}

/// Polls `ready` a while, then yields between polls: two spinning threads on a loaded
/// 2-core VM would otherwise each wait out the other's time slice (the executor waits the
/// same way, spin then yield).
template <typename Ready>
void waitFor(Ready ready) {
  for (int polls = 0; !ready(); ++polls) {
    if (polls >= 256) std::this_thread::yield();
  }
}

/// Waits for a free slot, fills `bytes` of it from `src` and commits.
void send(SendConnection& out, const char* src, size_t bytes) {
  std::span<std::byte> slot;
  waitFor([&] { return !(slot = out.acquire()).empty(); });
  std::memcpy(slot.data(), src, bytes);
  out.commit(bytes, 0);
}

/// Waits for a message, copies it to `dst` and releases the slot; returns its length.
size_t receive(RecvConnection& in, char* dst) {
  std::span<const std::byte> message;
  waitFor([&] { return !(message = in.peek()).empty(); });
  const size_t bytes = message.size();
  std::memcpy(dst, message.data(), bytes);
  in.release();
  return bytes;
}

constexpr char kStop = 1;

void BM_ShmPingPong(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  Pair pair = makePair();
  if (bytes > pair.self->slotBytes()) {
    state.SkipWithError("message larger than a slot");
    return;
  }
  std::thread echo([&] {
    std::vector<char> buffer(pair.peer->slotBytes());
    for (;;) {
      const size_t n = receive(pair.peer->recvFrom(0), buffer.data());
      if (n == 1 && buffer[0] == kStop) return;  // the pings are longer
      send(pair.peer->sendTo(0), buffer.data(), n);
    }
  });
  std::vector<char> out(bytes, 0), in(pair.self->slotBytes());
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    send(pair.self->sendTo(1), out.data(), bytes);
    receive(pair.self->recvFrom(1), in.data());
  }
  const std::chrono::duration<double, std::micro> elapsed =
      std::chrono::steady_clock::now() - start;
  send(pair.self->sendTo(1), &kStop, 1);
  echo.join();
  state.counters["one_way_us"] = elapsed.count() / (2.0 * static_cast<double>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes * 2));
}

void BM_ShmStream(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  constexpr size_t kBatch = 16u << 20;
  Pair pair = makePair();
  if (bytes > pair.self->slotBytes()) {
    state.SkipWithError("message larger than a slot");
    return;
  }
  const size_t messages = kBatch / bytes;
  std::thread sink([&] {
    std::vector<char> buffer(kBatch + pair.peer->slotBytes());
    for (;;) {
      size_t received = 0;
      for (size_t m = 0; m < messages; ++m) {
        char* at = buffer.data() + received;
        const size_t n = receive(pair.peer->recvFrom(0), at);
        if (n == 1 && *at == kStop) return;  // data messages are longer
        received += n;
      }
      send(pair.peer->sendTo(0), "a", 1);
    }
  });
  std::vector<char> source(kBatch, 0), ack(pair.self->slotBytes());
  for (auto _ : state) {
    for (size_t m = 0; m < messages; ++m)
      send(pair.self->sendTo(1), source.data() + m * bytes, bytes);
    receive(pair.self->recvFrom(1), ack.data());
  }
  send(pair.self->sendTo(1), &kStop, 1);
  sink.join();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * messages * bytes));
}

BENCHMARK(BM_ShmPingPong)->Arg(8)->Arg(64)->Arg(1024)->Arg(8192)->Arg(64 << 10)->UseRealTime();
BENCHMARK(BM_ShmStream)->Arg(4096)->Arg(32 << 10)->Arg(128 << 10)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
