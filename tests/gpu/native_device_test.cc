// The native C++ API on CUDA device memory: Work handles of device operations (test, wait,
// waitOn a user stream, bytes, timestamps), issue order of several operations in flight,
// point-to-point batches, and prism_overlap's GradBucketer and ParamPrefetcher keeping
// their buffers (float32 and bf16) on the device. Ranks are threads sharing the GPU(s). Skipped,
// with the reason, without a CUDA device.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "prism/comm.hpp"
#include "tests/gpu/gpu_fixtures.h"
#include "train/overlap/overlap.hpp"

namespace prism::test {
namespace {

using prism::Comm;
using prism::Work;
using prism::overlap::Buffer;
using prism::overlap::copyTensor;
using prism::overlap::Memory;

// Small integers: every sum over a few ranks is exact in float.
float valueOf(int rank, size_t i) { return static_cast<float>((rank * 7 + i * 3) % 17) - 8; }

RunOptions nativeRankOptions() {
  RunOptions options = deviceRunOptions();
  options.initComm = false;
  return options;
}

/// Runs `body` on `nranks` thread ranks, each with a native Comm bound to its device.
void runNativeRanks(int nranks, const std::function<void(RankContext&, Comm&)>& body) {
  runRanks(
      nranks, Mode::Threads,
      [&](RankContext& ctx) {
        Comm comm = Comm::fromUniqueId(ctx.id, ctx.nranks, ctx.rank);
        body(ctx, comm);
      },
      nativeRankOptions());
}

std::vector<float> hostValues(int rank, size_t n, size_t shift = 0) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = valueOf(rank, i + shift);
  return v;
}

Buffer deviceCopyOf(const std::vector<float>& host) {
  Buffer buffer(host.size(), ncclFloat32, Memory::Device);
  copyTensor(buffer.view(), host);
  return buffer;
}

// Reads `buffer` back on `stream` after `work` (Work::waitOn), without a host wait on the
// work itself: the copy is ordered behind the operation on the device.
std::vector<float> readAfter(RankContext& ctx, const Work& work, std::span<float> buffer,
                             cudaStream_t stream) {
  std::vector<float> out(buffer.size());
  work.waitOn(stream);
  requireCuda(ctx,
              cudaMemcpyAsync(out.data(), buffer.data(), out.size() * sizeof(float),
                              cudaMemcpyDeviceToHost, stream),
              "cudaMemcpyAsync");
  requireCuda(ctx, cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  return out;
}

void requireEqual(RankContext& ctx, const std::vector<float>& got,
                  const std::vector<float>& expected, const std::string& what) {
  ctx.require(got.size() == expected.size(), what + ": size " + std::to_string(got.size()));
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != expected[i]) {
      ctx.fail(what + ": element " + std::to_string(i) + " is " + std::to_string(got[i]) +
               ", expected " + std::to_string(expected[i]));
    }
  }
}

class NativeDevice : public CudaParamTest<int> {};

TEST_P(NativeDevice, CollectivesReturnWorkOrderedOnUserStreams) {
  runNativeRanks(GetParam(), [](RankContext& ctx, Comm& comm) {
    const int n = ctx.nranks;
    cudaStream_t stream = nullptr;
    requireCuda(ctx, cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    // Every buffer is allocated once, for the largest count: cudaFree waits for the whole
    // device, so a rank freeing while its peer's kernel waits for it would deadlock
    // (NCCL documents the same hazard for ranks that are threads of one process).
    constexpr size_t kMaxCount = 100003;
    Buffer inStore(kMaxCount, ncclFloat32, Memory::Device);
    Buffer outStore(kMaxCount, ncclFloat32, Memory::Device);
    Buffer gatheredStore(kMaxCount * n, ncclFloat32, Memory::Device);
    Buffer scatteredStore(kMaxCount, ncclFloat32, Memory::Device);
    Buffer dataStore(kMaxCount, ncclFloat32, Memory::Device);
    Buffer receivedStore(kMaxCount, ncclFloat32, Memory::Device);
    for (size_t count : {size_t{1}, size_t{1021}, kMaxCount}) {
      const std::string at = " (count " + std::to_string(count) + ")";
      // allReduce, out of place.
      const std::span<float> in = inStore.view().as<float>().first(count);
      const std::span<float> out = outStore.view().as<float>().first(count);
      copyTensor(in, hostValues(ctx.rank, count));
      Work w = comm.allReduce(in.data(), out.data(), count, ncclFloat32, ncclSum);
      std::vector<float> sum(count, 0.0f);
      for (int r = 0; r < n; ++r)
        for (size_t i = 0; i < count; ++i) sum[i] += valueOf(r, i);
      requireEqual(ctx, readAfter(ctx, w, out, stream), sum, "allReduce" + at);
      ctx.require(w.wait(std::chrono::seconds(60)) && w.test(), "allReduce completes" + at);
      ctx.require(w.bytes() == count * sizeof(float), "allReduce bytes" + at);
      ctx.require(w.endTime() >= w.startTime(), "allReduce timestamps" + at);

      // allGather: each rank's share is `count`.
      const std::span<float> gathered = gatheredStore.view().as<float>().first(count * n);
      w = comm.allGather(in.data(), gathered.data(), count, ncclFloat32);
      std::vector<float> expected;
      for (int r = 0; r < n; ++r) {
        std::vector<float> part = hostValues(r, count);
        expected.insert(expected.end(), part.begin(), part.end());
      }
      requireEqual(ctx, readAfter(ctx, w, gathered, stream), expected, "allGather" + at);

      // reduceScatter of the gathered buffer: rank r gets n * (r's share).
      const std::span<float> scattered = scatteredStore.view().as<float>().first(count);
      w = comm.reduceScatter(gathered.data(), scattered.data(), count, ncclFloat32, ncclSum);
      std::vector<float> share = hostValues(ctx.rank, count);
      for (float& v : share) v *= static_cast<float>(n);
      requireEqual(ctx, readAfter(ctx, w, scattered, stream), share, "reduceScatter" + at);

      // broadcast from the last rank, in place.
      const std::span<float> data = dataStore.view().as<float>().first(count);
      copyTensor(data, hostValues(ctx.rank, count));
      w = comm.broadcast(data.data(), data.data(), count, ncclFloat32, n - 1);
      requireEqual(ctx, readAfter(ctx, w, data, stream), hostValues(n - 1, count),
                   "broadcast" + at);

      // A ring of sends and receives as one batch: one handle.
      const std::span<float> received = receivedStore.view().as<float>().first(count);
      const prism::PeerOp ops[] = {
          {prism::PeerOp::Kind::Send, (ctx.rank + 1) % n, in.data(), count, ncclFloat32},
          {prism::PeerOp::Kind::Recv, (ctx.rank + n - 1) % n, received.data(), count, ncclFloat32}};
      w = comm.batch(ops);
      requireEqual(ctx, readAfter(ctx, w, received, stream),
                   hostValues((ctx.rank + n - 1) % n, count), "batch send/recv" + at);
      ctx.require(w.bytes() == 2 * count * sizeof(float), "batch bytes" + at);
    }
    cudaStreamDestroy(stream);
  });
}

TEST_P(NativeDevice, OperationsInFlightCompleteInIssueOrder) {
  runNativeRanks(GetParam(), [](RankContext& ctx, Comm& comm) {
    constexpr size_t kCount = 1 << 16;
    constexpr int kRounds = 6;
    // Each in-place sum reads what the one before wrote: out of order, the values
    // would not be n^rounds.
    Buffer data = deviceCopyOf(std::vector<float>(kCount, 1.0f));
    std::vector<Work> works;
    for (int k = 0; k < kRounds; ++k)
      works.push_back(comm.allReduce(data.data(), data.data(), kCount, ncclFloat32, ncclSum,
                                     k % 2 ? prism::Priority::High : prism::Priority::Normal));
    ctx.require(works.back().wait(std::chrono::seconds(60)), "the last operation completes");
    for (int k = 0; k < kRounds; ++k)
      ctx.require(works[k].test(), "operation " + std::to_string(k) + " completed before the last");
    std::vector<float> out(kCount);
    copyTensor(out, data.view());
    const float expected = std::pow(static_cast<float>(ctx.nranks), kRounds);
    requireEqual(ctx, out, std::vector<float>(kCount, expected), "chained in-place sums");
    comm.synchronize();
  });
}

// prism-train --mode zero3 --device cuda hung (H200, 2026-11-27): with in-kernel waits a
// rank's kernel spun for its peer's, which CUDA held back behind a cudaMalloc, cudaFree or
// memset that a thread made in between. This test hung the same way on 2 thread ranks
// with in-kernel waits and passed with PRISM_DEVICE_SYNC=events, the ordering the native
// API now uses (device::Launch::AfterPeers).
// Each rank allocates, sets and frees device buffers right after every issue, the last
// rank a little late so that its peer's work is already enqueued.
TEST_P(NativeDevice, DeviceBuffersMadeRightAfterAnIssueDoNotDeadlock) {
  runNativeRanks(GetParam(), [](RankContext& ctx, Comm& comm) {
    constexpr size_t kCount = 1 << 14;
    constexpr int kRounds = 24;
    Buffer shard = deviceCopyOf(hostValues(ctx.rank, kCount));
    std::vector<Buffer> gathered;
    std::vector<Work> works;
    for (int k = 0; k < kRounds; ++k) {
      if (ctx.rank == ctx.nranks - 1 && k % 2 == 1)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      gathered.emplace_back(kCount * ctx.nranks, ncclFloat32, Memory::Device);
      works.push_back(comm.allGather(shard.data(), gathered.back().data(), kCount, ncclFloat32));
      Buffer scratch(kCount * (k + 1), ncclFloat32, Memory::Device);  // allocate, then free
      scratch.zero();
    }
    for (int k = 0; k < kRounds; ++k)
      ctx.require(works[k].wait(std::chrono::seconds(60)),
                  "gather " + std::to_string(k) + " completes");
    std::vector<float> expected;
    for (int r = 0; r < ctx.nranks; ++r) {
      std::vector<float> part = hostValues(r, kCount);
      expected.insert(expected.end(), part.begin(), part.end());
    }
    std::vector<float> out(kCount * ctx.nranks);
    for (int k = 0; k < kRounds; k += 7) {
      copyTensor(out, gathered[k].view());
      requireEqual(ctx, out, expected, "gather " + std::to_string(k));
    }
  });
}

TEST_P(NativeDevice, GradBucketerReducesDeviceGradients) {
  runNativeRanks(GetParam(), [](RankContext& ctx, Comm& comm) {
    const int n = ctx.nranks;
    // Both bucketers live to the end: freeing device memory while a peer's kernel
    // waits for this rank would deadlock (see the first test).
    using BucketMode = prism::overlap::GradBucketer::Mode;
    const std::vector<size_t> sizes{1000, 7, 5003, 1, 9000};
    std::vector<std::unique_ptr<prism::overlap::GradBucketer>> bucketers;
    for (BucketMode mode : {BucketMode::AllReduce, BucketMode::ReduceScatter}) {
      prism::overlap::GradBucketer::Options options;
      options.mode = mode;
      options.average = false;
      options.memory = Memory::Device;
      options.firstBucketCapBytes = 4096;
      options.bucketCapBytes = 40000;
      bucketers.push_back(std::make_unique<prism::overlap::GradBucketer>(comm, options));
      for (size_t s : sizes) bucketers.back()->addParam(s);
      bucketers.back()->flat();  // lays out (allocates) now
    }
    for (BucketMode mode : {BucketMode::AllReduce, BucketMode::ReduceScatter}) {
      prism::overlap::GradBucketer& bucketer = *bucketers[mode == BucketMode::AllReduce ? 0 : 1];
      ctx.require(bucketer.bucketCount() >= 2, "several buckets");
      for (int step = 0; step < 2; ++step) {
        bucketer.zeroGrads();
        for (size_t p = 0; p < sizes.size(); ++p) {
          copyTensor(bucketer.grad(p), hostValues(ctx.rank, sizes[p], p * 100 + step));
          bucketer.markReady(p);
        }
        bucketer.finalize();
        for (size_t b = 0; b < bucketer.bucketCount(); ++b) {
          // The expected bucket: every rank's parameters laid out as the bucketer does.
          std::vector<float> bucket;
          for (size_t p : bucketer.bucketParams(b)) {
            std::vector<float> sum(sizes[p], 0.0f);
            for (int r = 0; r < n; ++r) {
              std::vector<float> v = hostValues(r, sizes[p], p * 100 + step);
              for (size_t i = 0; i < sum.size(); ++i) sum[i] += v[i];
            }
            bucket.insert(bucket.end(), sum.begin(), sum.end());
          }
          std::vector<float> got;
          if (mode == prism::overlap::GradBucketer::Mode::AllReduce) {
            got.resize(bucket.size());
            copyTensor(got, bucketer.bucket(b).first(bucket.size()));
          } else {
            const prism::overlap::TensorView shard = bucketer.shard(b);
            got.resize(shard.count());
            copyTensor(got, shard);
            bucket.resize(bucketer.bucket(b).count(), 0.0f);  // the zero padding
            bucket = std::vector<float>(bucket.begin() + ctx.rank * shard.count(),
                                        bucket.begin() + (ctx.rank + 1) * shard.count());
          }
          requireEqual(ctx, got, bucket, "bucket " + std::to_string(b));
        }
      }
    }
  });
}

TEST_P(NativeDevice, ParamPrefetcherGathersAndReducesOnTheDevice) {
  runNativeRanks(GetParam(), [](RankContext& ctx, Comm& comm) {
    const int n = ctx.nranks;
    prism::overlap::ParamPrefetcher::Options options;
    options.memory = Memory::Device;
    prism::overlap::ParamPrefetcher prefetcher(comm, options);
    const std::vector<size_t> shards{513, 1, 2048};
    for (size_t s : shards) prefetcher.addUnit(s);
    for (size_t u = 0; u < shards.size(); ++u)
      copyTensor(prefetcher.shard(u), hostValues(ctx.rank, shards[u], u));
    // Round 0 allocates the gathered storage; round 1 must only reuse it.
    std::set<const void*> allocated;
    for (int round = 0; round < 2; ++round) {
      for (size_t u = 0; u < shards.size(); ++u) {
        prism::Work w = prefetcher.unshard(u);
        prefetcher.prefetchForward(u);
        ctx.require(w.wait(std::chrono::seconds(60)), "gather completes");
        std::vector<float> expected;
        for (int r = 0; r < n; ++r) {
          std::vector<float> part = hostValues(r, shards[u], u);
          expected.insert(expected.end(), part.begin(), part.end());
        }
        std::vector<float> got(prefetcher.full(u).count());
        copyTensor(got, prefetcher.full(u));
        requireEqual(ctx, got, expected, "unit " + std::to_string(u) + " gathered");
        const void* storage = prefetcher.full(u).data();
        if (round == 0) allocated.insert(storage);
        ctx.require(allocated.count(storage) == 1,
                    "round 1 reuses the storage of round 0 (unit " + std::to_string(u) + ")");
        prefetcher.reshard(u);
        ctx.require(prefetcher.full(u).empty(), "reshard releases the parameters");
      }
      prefetcher.finalize();
    }
    // Gradients: rank r's full gradient is valueOf(r, .); each rank keeps its summed shard.
    const size_t u = 2;
    copyTensor(prefetcher.grad(u), hostValues(ctx.rank, shards[u] * n));
    prefetcher.reduceGrad(u, /*average=*/false).wait();
    std::vector<float> expected(shards[u], 0.0f);
    for (int r = 0; r < n; ++r)
      for (size_t i = 0; i < shards[u]; ++i) expected[i] += valueOf(r, ctx.rank * shards[u] + i);
    std::vector<float> got(shards[u]);
    copyTensor(got, prefetcher.gradShard(u));
    requireEqual(ctx, got, expected, "gradient shard");
    prefetcher.finalize();
  });
}

/// bf16 bits of small integers: exact, since their floats' low 16 bits are zero.
std::vector<uint16_t> bf16Of(const std::vector<float>& values) {
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    bits[i] = static_cast<uint16_t>(std::bit_cast<uint32_t>(values[i]) >> 16);
  return bits;
}

// Frameworks bucket bf16 gradients: the bucket is reduced as bf16 on the device.
TEST_P(NativeDevice, GradBucketerReducesBf16DeviceGradients) {
  runNativeRanks(GetParam(), [](RankContext& ctx, Comm& comm) {
    const std::vector<size_t> sizes{1001, 7, 5003, 1};
    prism::overlap::GradBucketer::Options options;
    options.type = ncclBfloat16;
    options.average = false;
    options.memory = Memory::Device;
    options.firstBucketCapBytes = 4096;
    options.bucketCapBytes = 12000;
    prism::overlap::GradBucketer bucketer(comm, options);
    for (size_t s : sizes) bucketer.addParam(s);
    ctx.require(bucketer.bucketCount() == 2, "two buckets of 2-byte elements");
    for (size_t p = 0; p < sizes.size(); ++p) {
      const std::vector<uint16_t> bits = bf16Of(hostValues(ctx.rank, sizes[p], p));
      copyTensor(bucketer.grad(p),
                 prism::overlap::ConstTensorView(bits.data(), bits.size(), ncclBfloat16));
      bucketer.markReady(p);
    }
    bucketer.finalize();
    for (size_t p = 0; p < sizes.size(); ++p) {
      std::vector<float> sum(sizes[p], 0.0f);
      for (int r = 0; r < ctx.nranks; ++r) {
        const std::vector<float> v = hostValues(r, sizes[p], p);
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += v[i];
      }
      std::vector<uint16_t> got(sizes[p]);
      copyTensor(prism::overlap::TensorView(got.data(), got.size(), ncclBfloat16),
                 bucketer.grad(p));
      ctx.require(got == bf16Of(sum), "bf16 param " + std::to_string(p));
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, NativeDevice, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "ranks";
                         });

class DeviceBuffer : public CudaTest {};

TEST_F(DeviceBuffer, StartsZeroedAndCopiesBothWays) {
  Buffer buffer(4097, ncclFloat32, Memory::Device);
  std::vector<float> out(buffer.count(), -1.0f);
  copyTensor(out, buffer.view());
  EXPECT_EQ(out, std::vector<float>(buffer.count(), 0.0f));
  std::vector<float> in = hostValues(3, buffer.count());
  copyTensor(buffer.view(), in);
  copyTensor(out, buffer.view());
  EXPECT_EQ(out, in);
  buffer.zero();
  copyTensor(out, buffer.view());
  EXPECT_EQ(out, std::vector<float>(buffer.count(), 0.0f));
  EXPECT_THROW(copyTensor(buffer.view().first(3), in), prism::CommError);
}

}  // namespace
}  // namespace prism::test
