// prism_overlap on float32: interval arithmetic against a cell-counting reference, the
// meter's report, views and buffers, and the bucketer, prefetcher and pipeline scheduler on
// thread ranks against references computed here. bf16 and fp16: overlap_types_test.cc.
#include "train/overlap/overlap.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/rank_runner.h"

namespace prism::overlap {
namespace {

using test::Mode;
using test::RankContext;
using test::runRanks;
using namespace std::chrono_literals;

// ---- interval math ---------------------------------------------------------------------

/// Reference: unit cells [k, k+1) of an integer grid covered by some comm interval and
/// (for exposed) by no compute interval.
double cellsExposed(const std::vector<Interval>& comm, const std::vector<Interval>& compute,
                    bool requireUncovered) {
  auto covers = [](const std::vector<Interval>& list, int cell) {
    for (const Interval& i : list)
      if (i.begin <= cell && cell + 1 <= i.end) return true;
    return false;
  };
  double total = 0;
  for (int cell = 0; cell < 40; ++cell)
    if (covers(comm, cell) && (!requireUncovered || !covers(compute, cell))) total += 1;
  return total;
}

TEST(IntervalMath, NamedCases) {
  std::vector<Interval> comm{{2, 6}};
  // Covered: compute spans the whole communication.
  EXPECT_EQ(exposedLength(comm, std::vector<Interval>{{1, 7}}), 0);
  // Partially covered.
  EXPECT_EQ(exposedLength(comm, std::vector<Interval>{{4, 9}}), 2);
  // Disjoint.
  EXPECT_EQ(exposedLength(comm, std::vector<Interval>{{7, 9}}), 4);
  // Nested compute inside communication, and nested compute intervals.
  EXPECT_EQ(exposedLength(comm, std::vector<Interval>{{3, 4}, {3.5, 4}, {5, 5.5}}), 2.5);
  // Several overlapping communications count their union once.
  std::vector<Interval> many{{0, 3}, {2, 5}, {4, 6}, {10, 11}};
  EXPECT_EQ(unionLength(many), 7);
  EXPECT_EQ(exposedLength(many, std::vector<Interval>{{1, 10.5}}), 1.5);
  // Touching intervals merge; empty and reversed ones vanish.
  auto merged = intervalUnion(std::vector<Interval>{{0, 1}, {1, 2}, {3, 3}, {5, 4}});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].begin, 0);
  EXPECT_EQ(merged[0].end, 2);
  EXPECT_EQ(unionLength({}), 0);
  EXPECT_EQ(exposedLength({}, std::vector<Interval>{{0, 1}}), 0);
}

TEST(IntervalMath, RandomAgainstCellReference) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> point(0, 30), many(0, 6);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<Interval> comm, compute;
    for (int k = many(rng); k > 0; --k) {
      int a = point(rng), b = point(rng);
      comm.push_back({double(std::min(a, b)), double(std::max(a, b))});
    }
    for (int k = many(rng); k > 0; --k) {
      int a = point(rng), b = point(rng);
      compute.push_back({double(std::min(a, b)), double(std::max(a, b))});
    }
    ASSERT_EQ(unionLength(comm), cellsExposed(comm, {}, false)) << "trial " << trial;
    ASSERT_EQ(exposedLength(comm, compute), cellsExposed(comm, compute, true)) << "trial " << trial;
    ASSERT_EQ(intersectionLength(comm, compute),
              cellsExposed(comm, {}, false) - cellsExposed(comm, compute, true));
  }
}

TEST(OverlapMeter, ReportsBytesBusBandwidthAndOverlap) {
  OverlapMeter meter;
  meter.recordInterval({0, 2}, Collective::AllReduce, 4, 1000);
  meter.recordInterval({1, 3}, Collective::AllReduce, 4, 1000);
  meter.recordInterval({5, 6}, Collective::AllGather, 4, 400);
  meter.addCompute({0.5, 5.5});
  OverlapMeter::Report r = meter.endStep();
  EXPECT_DOUBLE_EQ(r.commSeconds, 4);
  EXPECT_DOUBLE_EQ(r.exposedSeconds, 1);
  EXPECT_DOUBLE_EQ(r.overlapPercent, 75);
  // Named and weighted as prism::collectiveName and prism::busBandwidthFactor say.
  EXPECT_EQ(r.bytes["AllReduce"], 2000u);
  EXPECT_EQ(r.bytes["AllGather"], 400u);
  EXPECT_DOUBLE_EQ(r.busBwGBs["AllReduce"], 2000 * 1.5 / 4 / 1e9);
  EXPECT_DOUBLE_EQ(r.busBwGBs["AllGather"], 400 * 0.75 / 1 / 1e9);
  // The next step starts empty.
  OverlapMeter::Report next = meter.endStep();
  EXPECT_EQ(next.commSeconds, 0);
  EXPECT_TRUE(next.bytes.empty());
}

// A scheme of the caller's own (a bucketer hook) is no collective: "custom", factor 1.
TEST(OverlapMeter, CustomCommunicationCountsItsBytesOnce) {
  OverlapMeter meter;
  meter.recordInterval({0, 2}, std::nullopt, 8, 600);
  meter.recordInterval({1, 2}, Collective::SendRecv, 8, 100);
  OverlapMeter::Report r = meter.endStep();
  EXPECT_EQ(r.bytes["custom"], 600u);
  EXPECT_DOUBLE_EQ(r.busBwGBs["custom"], 600 / 2 / 1e9);
  EXPECT_DOUBLE_EQ(r.busBwGBs["SendRecv"], 100 / 1 / 1e9);
  EXPECT_DOUBLE_EQ(r.commSeconds, 2);
  EXPECT_DOUBLE_EQ(r.overlapPercent, 0);
}

// ---- hooks on ranks ----------------------------------------------------------------------

test::RunOptions noComm() {
  test::RunOptions options;
  options.initComm = false;
  return options;
}

Comm join(RankContext& ctx) { return Comm::fromUniqueId(ctx.id, ctx.nranks, ctx.rank); }

/// A float32 view's elements.
std::span<float> floats(TensorView view) { return view.as<float>(); }

float gradValue(int rank, size_t param, size_t i) {
  return static_cast<float>(static_cast<int>((rank * 13 + param * 5 + i * 3) % 17) - 8);
}

/// Params [4,4,4,30,10,10,10,3] floats with caps of 10 floats (first) and 25 (others).
GradBucketer::Options smallCaps(GradBucketer::Mode mode) {
  GradBucketer::Options o;
  o.mode = mode;
  o.firstBucketCapBytes = 10 * sizeof(float);
  o.bucketCapBytes = 25 * sizeof(float);
  return o;
}
const std::vector<size_t> kParams{4, 4, 4, 30, 10, 10, 10, 3};

void fillGrads(GradBucketer& b, int rank, float scale = 1) {
  for (size_t p = 0; p < kParams.size(); ++p)
    for (size_t i = 0; i < kParams[p]; ++i) floats(b.grad(p))[i] += scale * gradValue(rank, p, i);
}

/// Every gradient holds the average of the two ranks' fillGrads values.
void requireTwoRankAverage(RankContext& ctx, GradBucketer& b) {
  for (size_t p = 0; p < kParams.size(); ++p)
    for (size_t i = 0; i < kParams[p]; ++i) {
      float expect = (gradValue(0, p, i) + gradValue(1, p, i)) / 2.0f;
      ctx.require(floats(b.grad(p))[i] == expect, "average of param " + std::to_string(p));
    }
}

/// A 2-rank AllReduce bucketer over kParams with small caps; `reduced` collects onReduced.
GradBucketer::Options allReduceOptions(std::vector<size_t>& reduced) {
  GradBucketer::Options o = smallCaps(GradBucketer::Mode::AllReduce);
  o.onReduced = [&reduced](size_t b) { reduced.push_back(b); };
  return o;
}

TEST(GradBucketer, BucketsFollowCapsAndLaunchInOrder) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        std::vector<size_t> reduced;
        GradBucketer b(comm, allReduceOptions(reduced));
        for (size_t n : kParams) b.addParam(n);
        std::vector<std::vector<size_t>> expected{{0, 1}, {2}, {3}, {4, 5}, {6, 7}};
        ctx.require(b.bucketCount() == expected.size(), "bucket count");
        for (size_t k = 0; k < expected.size(); ++k)
          ctx.require(b.bucketParams(k) == expected[k], "bucket " + std::to_string(k));
        fillGrads(b, ctx.rank);
        // Buckets 1 and 2 are complete first but wait for bucket 0.
        b.markReady(2);
        b.markReady(3);
        ctx.require(b.launchOrder().empty(), "launched before bucket 0 was ready");
        b.markReady(0);
        b.markReady(1);
        ctx.require(b.launchOrder() == std::vector<size_t>({0, 1, 2}), "launch order");
        for (size_t p : {7, 6, 5, 4}) b.markReady(p);
        ctx.require(b.launchOrder() == std::vector<size_t>({0, 1, 2, 3, 4}), "all launched");
        b.finalize();
        ctx.require(reduced == std::vector<size_t>({0, 1, 2, 3, 4}), "reduced callbacks");
        requireTwoRankAverage(ctx, b);
        ctx.require(floats(b.grad(3)).data() == floats(b.flat()).data() + 12,
                    "grads are views of the flat buffer");
      },
      noComm());
}

// Only some parameters are marked ready (a layer unused this step): finalize must launch
// every remaining bucket, the last one included, and reduce all of them.
TEST(GradBucketer, FinalizeLaunchesWhatWasNeverMarkedReady) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        std::vector<size_t> reduced;
        GradBucketer b(comm, allReduceOptions(reduced));
        for (size_t n : kParams) b.addParam(n);
        fillGrads(b, ctx.rank);
        for (size_t p : {0, 1, 2}) b.markReady(p);  // buckets 0 and 1; 2, 3, 4 never
        ctx.require(b.launchOrder() == std::vector<size_t>({0, 1}), "launched before finalize");
        b.finalize();
        ctx.require(reduced == std::vector<size_t>({0, 1, 2, 3, 4}), "reduced callbacks");
        requireTwoRankAverage(ctx, b);
      },
      noComm());
}

TEST(GradBucketer, DefaultCapsFirstBucketSmaller) {
  runRanks(
      1, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        GradBucketer b(comm);
        // 0.5 MiB params: two fit the 1 MiB first bucket, then up to 25 MiB per bucket.
        for (int k = 0; k < 60; ++k) b.addParam(size_t{1} << 17);
        ctx.require(b.bucketParams(0).size() == 2, "first bucket holds 1 MiB");
        ctx.require(b.bucketParams(1).size() == 50, "later buckets hold 25 MiB");
        ctx.require(b.bucketCount() == 3 && b.bucketParams(2).size() == 8, "the rest");
      },
      noComm());
}

TEST(GradBucketer, ZeroTwoShardsAndSum) {
  runRanks(
      3, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        GradBucketer::Options o = smallCaps(GradBucketer::Mode::ReduceScatter);
        o.average = false;
        GradBucketer b(comm, o);
        for (size_t n : kParams) b.addParam(n);
        fillGrads(b, ctx.rank);
        for (size_t p = 0; p < kParams.size(); ++p) b.markReady(p);
        b.finalize();
        for (size_t k = 0; k < b.bucketCount(); ++k) {
          std::span<float> bucket = floats(b.bucket(k)), shard = floats(b.shard(k));
          ctx.require(bucket.size() % 3 == 0 && shard.size() == bucket.size() / 3, "padding");
          // Reference: the bucket's element e is a param element (or zero padding).
          for (size_t i = 0; i < shard.size(); ++i) {
            size_t e = ctx.rank * shard.size() + i;
            float expect = 0;
            size_t at = 0;
            for (size_t p : b.bucketParams(k)) {
              if (e >= at && e < at + kParams[p])
                for (int r = 0; r < 3; ++r) expect += gradValue(r, p, e - at);
              at += kParams[p];
            }
            ctx.require(shard[i] == expect, "shard of bucket " + std::to_string(k));
          }
        }
      },
      noComm());
}

TEST(GradBucketer, NoSyncAccumulatesThenSyncs) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        GradBucketer b(comm, smallCaps(GradBucketer::Mode::AllReduce));
        for (size_t n : kParams) b.addParam(n);
        b.zeroGrads();
        b.setNoSync(true);
        for (int micro = 0; micro < 2; ++micro) {
          fillGrads(b, ctx.rank, static_cast<float>(micro + 1));
          for (size_t p = 0; p < kParams.size(); ++p) b.markReady(p);
          ctx.require(b.launchOrder().empty(), "no-sync launched");
          b.finalize();
        }
        b.setNoSync(false);
        fillGrads(b, ctx.rank, 3);
        for (size_t p = 0; p < kParams.size(); ++p) b.markReady(p);
        b.finalize();
        for (size_t p = 0; p < kParams.size(); ++p)
          for (size_t i = 0; i < kParams[p]; ++i) {
            float mine = 6 * gradValue(0, p, i), theirs = 6 * gradValue(1, p, i);
            ctx.require(floats(b.grad(p))[i] == (mine + theirs) / 2.0f, "accumulated average");
          }
        b.zeroGrads();
        ctx.require(floats(b.grad(3))[0] == 0, "zeroGrads");
      },
      noComm());
}

TEST(GradBucketer, HookPerBucketAndSerializedMeter) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        OverlapMeter meter;
        meter.setSerialize(true);
        GradBucketer::Options o = smallCaps(GradBucketer::Mode::Hook);
        std::vector<size_t> sizes;
        // A stand-in for compression: scale by 2, then sum.
        o.hook = [&](Comm& c, TensorView bucket) {
          sizes.push_back(bucket.count());
          for (float& x : bucket.as<float>()) x *= 2;
          return c.allReduce(bucket.data(), bucket.data(), bucket.count(), bucket.type(), ncclSum);
        };
        o.meter = &meter;
        GradBucketer b(comm, o);
        for (size_t n : kParams) b.addParam(n);
        fillGrads(b, ctx.rank);
        for (size_t p = 0; p < kParams.size(); ++p) b.markReady(p);
        b.finalize();
        ctx.require(sizes == std::vector<size_t>({8, 4, 30, 20, 13}), "hook once per bucket");
        for (size_t p = 0; p < kParams.size(); ++p)
          for (size_t i = 0; i < kParams[p]; ++i)
            ctx.require(floats(b.grad(p))[i] == 2 * (gradValue(0, p, i) + gradValue(1, p, i)),
                        "hook");
        OverlapMeter::Report r = meter.endStep();
        ctx.require(r.bytes["custom"] == 75 * sizeof(float), "meter bytes");
        ctx.require(r.commSeconds > 0 && r.overlapPercent == 0, "serialized: nothing hidden");
      },
      noComm());
}

TEST(ParamPrefetcher, GathersAndBoundsInFlight) {
  std::atomic<bool> checked{false};
  runRanks(
      3, Mode::Threads,
      [&](RankContext& ctx) {
        Comm comm = join(ctx);
        ParamPrefetcher f(comm, {.maxInFlight = 2});
        const std::vector<size_t> shardSizes{5, 1, 7, 3, 4};
        for (size_t s : shardSizes) f.addUnit(s);
        for (size_t u = 0; u < shardSizes.size(); ++u)
          for (size_t i = 0; i < shardSizes[u]; ++i)
            floats(f.shard(u))[i] = gradValue(ctx.rank, u, i);
        if (ctx.rank != 0) {
          // Withholds the gathers until rank 0 has seen two in flight.
          auto deadline = std::chrono::steady_clock::now() + 30s;
          while (!checked.load() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        }
        f.unshard(0);
        f.prefetchForward(0);
        if (ctx.rank == 0) {
          int inFlight = f.inFlight();
          checked.store(true);
          ctx.require(inFlight == 2, "two gathers in flight, saw " + std::to_string(inFlight));
        }
        f.prefetchForward(1, 3);  // units 2..4, at most two at a time
        ctx.require(f.unshard(3).wait(60s), "unshard of an in-flight unit");
        f.finalize();
        ctx.require(f.maxInFlightSeen() <= 2, "in-flight limit exceeded");
        for (size_t u = 0; u < shardSizes.size(); ++u) {
          ctx.require(f.gathered(u) && f.full(u).count() == shardSizes[u] * 3, "gathered");
          for (int r = 0; r < 3; ++r)
            for (size_t i = 0; i < shardSizes[u]; ++i)
              ctx.require(floats(f.full(u))[r * shardSizes[u] + i] == gradValue(r, u, i),
                          "gather data");
        }
        // Backward: reshard everything, then reduceGrad(4) prefetches unit 3 first.
        for (size_t u = 0; u < shardSizes.size(); ++u) f.reshard(u);
        ctx.require(!f.gathered(3) && f.full(3).empty(), "reshard releases");
        // Released storage is reused: gathering again allocates nothing new.
        std::vector<const void*> released;
        for (size_t u = 0; u < 2; ++u) {
          ctx.require(f.unshard(u).wait(60s), "gather again");
          released.push_back(f.full(u).data());
        }
        f.finalize();
        for (size_t u = 0; u < 2; ++u) f.reshard(u);
        for (size_t u = 2; u < 4; ++u) {
          ctx.require(f.unshard(u).wait(60s), "gather again");
          const void* storage = f.full(u).data();
          ctx.require(storage == released[0] || storage == released[1], "storage reused");
          for (int r = 0; r < 3; ++r)
            for (size_t i = 0; i < shardSizes[u]; ++i)
              ctx.require(floats(f.full(u))[r * shardSizes[u] + i] == gradValue(r, u, i),
                          "gather data in reused storage");
        }
        f.finalize();
        for (size_t u = 2; u < 4; ++u) f.reshard(u);
        std::span<float> g = floats(f.grad(4));
        for (size_t i = 0; i < g.size(); ++i) g[i] = gradValue(ctx.rank, 9, i);
        Work rs = f.reduceGrad(4, /*average=*/false);
        ctx.require(f.gathered(3), "next backward unit prefetched before the reduce-scatter");
        ctx.require(rs.wait(60s), "reduce-scatter");
        f.finalize();
        for (size_t i = 0; i < shardSizes[4]; ++i) {
          float expect = 0;
          for (int r = 0; r < 3; ++r) expect += gradValue(r, 9, ctx.rank * shardSizes[4] + i);
          ctx.require(floats(f.gradShard(4))[i] == expect, "gradient shard");
        }
      },
      noComm());
}

TEST(Buffer, HostBufferStartsZeroedAndCopies) {
  Buffer b(1000, ncclFloat32, Memory::Host);
  ASSERT_EQ(b.count(), 1000u);
  ASSERT_EQ(b.bytes(), 4000u);
  std::span<float> view = b.view().as<float>();
  EXPECT_EQ(std::vector<float>(view.begin(), view.end()), std::vector<float>(1000, 0.0f));
  std::vector<float> in(1000);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i) - 500.5f;
  copyTensor(b.view(), in);
  std::vector<float> out(1000, -1.0f);
  copyTensor(out, b.view());
  EXPECT_EQ(out, in);
  Buffer moved(std::move(b));
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(moved.view().as<float>()[999], in[999]);
  moved.zero();
  EXPECT_EQ(moved.view().as<float>()[999], 0.0f);
  try {
    copyTensor(moved.view().first(10), in);
    ADD_FAILURE() << "a size mismatch must throw";
  } catch (const CommError& e) {
    EXPECT_EQ(e.code(), ncclInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("10 elements"), std::string::npos) << e.what();
  }
}

TEST(Buffer, DeviceMemoryWithoutAGpuIsAClearError) {
  try {
    Buffer b(16, ncclFloat32, Memory::Device);
    // Only reachable in a CUDA build on a machine with a GPU (tests/gpu covers that).
    EXPECT_EQ(b.memory(), Memory::Device);
  } catch (const CommError& e) {
    EXPECT_EQ(e.code(), ncclInvalidUsage);
    EXPECT_NE(std::string(e.what()).find("device memory requested"), std::string::npos) << e.what();
  }
}

TEST(TensorView, ReadsOnlyAsItsElementType) {
  Buffer bits(7, ncclBfloat16, Memory::Host);
  EXPECT_EQ(bits.bytes(), 14u);
  EXPECT_EQ(bits.view().as<uint16_t>().size(), 7u);
  EXPECT_THROW(bits.view().as<float>(), CommError);  // 2-byte elements are no floats
  Buffer words(3, ncclInt32, Memory::Host);
  EXPECT_THROW(words.view().as<float>(), CommError);  // same size, another type
  EXPECT_EQ(words.view().as<int32_t>().size(), 3u);
  // Views of float ranges are ncclFloat32; a copy across types is refused.
  std::vector<float> host(7, 1.0f);
  EXPECT_EQ(TensorView(host).type(), ncclFloat32);
  try {
    copyTensor(bits.view(), host);
    ADD_FAILURE() << "a type mismatch must throw";
  } catch (const CommError& e) {
    EXPECT_EQ(e.code(), ncclInvalidArgument);
  }
  EXPECT_EQ(bits.view().subview(2, 5).data(), static_cast<std::byte*>(bits.data()) + 4);
  EXPECT_THROW(bits.view().subview(3, 5), CommError);
  EXPECT_THROW(elementSize(ncclNumTypes), CommError);
}

TEST(PipelineScheduler, OneBatchPerTick) {
  runRanks(
      3, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        PipelineScheduler pipe(comm);
        const int s = ctx.rank;
        for (int tick = 0; tick < 4; ++tick) {
          std::vector<float> act(100, float(10 * s + tick)), grad(50, float(-s - tick));
          std::vector<float> actIn(100, -1), gradIn(50, -1);
          if (!pipe.isLast()) pipe.sendNext(act);
          if (!pipe.isFirst()) pipe.recvPrev(actIn);
          if (!pipe.isFirst()) pipe.sendPrev(grad);
          if (!pipe.isLast()) pipe.recvNext(gradIn);
          size_t expectOps = (pipe.isFirst() || pipe.isLast()) ? 2 : 4;
          ctx.require(pipe.pendingCount() == expectOps, "collected ops");
          Work w = pipe.flush();
          ctx.require(pipe.pendingCount() == 0, "flush starts a new tick");
          ctx.require(w.wait(60s), "tick batch");
          if (!pipe.isFirst()) ctx.require(actIn[99] == float(10 * (s - 1) + tick), "activation");
          if (!pipe.isLast()) ctx.require(gradIn[0] == float(-(s + 1) - tick), "gradient");
        }
      },
      noComm());
}

}  // namespace
}  // namespace prism::overlap
