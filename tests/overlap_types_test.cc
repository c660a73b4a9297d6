// prism_overlap on the 16-bit gradient types frameworks bucket (bf16, fp16): bucket caps
// count bytes of the element type, and the bucketer (all-reduce, ZeRO-2 reduce-scatter,
// average, hook), the prefetcher and the pipeline scheduler move and reduce the elements
// as that type, on 3 thread ranks with odd element counts. The reference encodes values
// from the IEEE bit layouts here, independently of Prism's conversions; every value, sum
// and average below is exact in both formats, so any reduction order must give its bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/harness/rank_runner.h"
#include "train/overlap/overlap.hpp"

namespace prism::overlap {
namespace {

using test::RankContext;

// ---- an independent reference for bf16 and fp16 ----------------------------------------

struct Format {
  ncclDataType_t type;
  const char* name;
  int fractionBits;
  int bias;
};
constexpr Format kBf16{ncclBfloat16, "bf16", 7, 127};
constexpr Format kFp16{ncclFloat16, "fp16", 10, 15};
void PrintTo(const Format& f, std::ostream* os) { *os << f.name; }

/// The bits of `v` in `f`, for zero and normal numbers that `f` holds exactly.
uint16_t encode(double v, const Format& f) {
  if (v == 0) return 0;
  const uint16_t sign = v < 0 ? 0x8000 : 0;
  int exponent = 0;
  const double mantissa = std::frexp(std::fabs(v), &exponent);  // in [0.5, 1)
  const double fraction = (2 * mantissa - 1) * std::ldexp(1.0, f.fractionBits);
  const int biased = exponent - 1 + f.bias;
  if (fraction != std::floor(fraction) || biased < 1 || biased >= 2 * f.bias + 1)
    throw std::logic_error("test value " + std::to_string(v) + " is not exact in " + f.name);
  return static_cast<uint16_t>(sign | biased << f.fractionBits | static_cast<int>(fraction));
}

double decode(uint16_t bits, const Format& f) {
  const int biased = (bits & 0x7fff) >> f.fractionBits;
  const int fraction = bits & ((1 << f.fractionBits) - 1);
  const double magnitude =
      biased == 0 ? 0 : std::ldexp(1.0 + std::ldexp(fraction, -f.fractionBits), biased - f.bias);
  return bits & 0x8000 ? -magnitude : magnitude;
}

/// Quarters in [-8, 8]: sums of three and their partial sums stay exact in bf16's 8 bits.
double valueOf(int rank, size_t group, size_t i) {
  return static_cast<int>((rank * 13 + group * 5 + i * 3) % 65 - 32) / 4.0;
}

void fill(TensorView view, const Format& f, const std::function<double(size_t)>& value) {
  std::span<uint16_t> bits = view.as<uint16_t>();
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = encode(value(i), f);
}

void requireEqual(RankContext& ctx, TensorView view, const Format& f,
                  const std::function<double(size_t)>& expected, const std::string& what) {
  ctx.require(view.type() == f.type, what + ": element type");
  std::span<uint16_t> bits = view.as<uint16_t>();
  for (size_t i = 0; i < bits.size(); ++i)
    if (bits[i] != encode(expected(i), f))
      ctx.fail(what + ": element " + std::to_string(i) + " is " +
               std::to_string(decode(bits[i], f)) + ", expected " + std::to_string(expected(i)));
}

TEST(OverlapReference, EncodesTheIeeeLayouts) {
  EXPECT_EQ(encode(1.0, kBf16), 0x3f80);
  EXPECT_EQ(encode(-2.5, kBf16), 0xc020);
  EXPECT_EQ(encode(1.0, kFp16), 0x3c00);
  EXPECT_EQ(encode(-0.25, kFp16), 0xb400);
  EXPECT_EQ(decode(encode(-7.75, kFp16), kFp16), -7.75);
  EXPECT_THROW(encode(1.0 / 3, kBf16), std::logic_error);
}

// ---- the helpers on 3 ranks --------------------------------------------------------------

constexpr int kRanks = 3;
/// Odd sizes; with the caps below the buckets are {0,1} {2,3} {4} {5} for 2-byte elements.
const std::vector<size_t> kParams{3, 7, 1, 13, 5, 11};

Comm join(RankContext& ctx) { return Comm::fromUniqueId(ctx.id, ctx.nranks, ctx.rank); }

void runOnRanks(int nranks, const std::function<void(RankContext&, Comm&)>& body) {
  test::RunOptions options;
  options.initComm = false;
  test::runRanks(
      nranks, test::Mode::Threads,
      [&](RankContext& ctx) {
        Comm comm = join(ctx);
        body(ctx, comm);
      },
      options);
}

GradBucketer::Options bucketOptions(const Format& f, GradBucketer::Mode mode) {
  GradBucketer::Options o;
  o.mode = mode;
  o.type = f.type;
  o.average = false;
  o.firstBucketCapBytes = 10 * 2;  // 10 elements of 2 bytes (5 floats)
  o.bucketCapBytes = 14 * 2;
  return o;
}

/// Sum over ranks of valueOf for param p's element i.
double sumOf(int nranks, size_t p, size_t i) {
  double sum = 0;
  for (int r = 0; r < nranks; ++r) sum += valueOf(r, p, i);
  return sum;
}

class OverlapTypes : public ::testing::TestWithParam<Format> {};

TEST_P(OverlapTypes, BucketCapsCountBytesOfTheElementType) {
  const Format f = GetParam();
  runOnRanks(1, [&](RankContext& ctx, Comm& comm) {
    GradBucketer b(comm, bucketOptions(f, GradBucketer::Mode::AllReduce));
    for (size_t n : kParams) b.addParam(n);
    const std::vector<std::vector<size_t>> expected{{0, 1}, {2, 3}, {4}, {5}};
    ctx.require(b.bucketCount() == expected.size(), "bucket count");
    for (size_t k = 0; k < expected.size(); ++k)
      ctx.require(b.bucketParams(k) == expected[k], "bucket " + std::to_string(k));
    ctx.require(b.flat().type() == f.type && b.flat().count() == 40, "flat buffer");
    ctx.require(b.flat().bytes() == 80, "flat bytes");
  });
}

TEST_P(OverlapTypes, AllReduceSumsEveryBucketInItsType) {
  const Format f = GetParam();
  runOnRanks(kRanks, [&](RankContext& ctx, Comm& comm) {
    std::vector<size_t> reduced;
    GradBucketer::Options o = bucketOptions(f, GradBucketer::Mode::AllReduce);
    o.onReduced = [&reduced](size_t b) { reduced.push_back(b); };
    GradBucketer b(comm, o);
    for (size_t n : kParams) b.addParam(n);
    for (int step = 0; step < 2; ++step) {
      b.zeroGrads();
      // Backward order: the last bucket's parameters become ready first.
      for (size_t p = kParams.size(); p-- > 0;) {
        fill(b.grad(p), f, [&](size_t i) { return valueOf(ctx.rank, p + step, i); });
        b.markReady(p);
      }
      b.finalize();
      ctx.require(reduced.size() == 4 * (step + 1u), "every bucket reduced");
      for (size_t p = 0; p < kParams.size(); ++p)
        requireEqual(
            ctx, b.grad(p), f, [&](size_t i) { return sumOf(ctx.nranks, p + step, i); },
            std::string(f.name) + " param " + std::to_string(p));
    }
  });
}

TEST_P(OverlapTypes, AverageDividesTheExactSum) {
  const Format f = GetParam();
  runOnRanks(kRanks, [&](RankContext& ctx, Comm& comm) {
    GradBucketer::Options o = bucketOptions(f, GradBucketer::Mode::AllReduce);
    o.average = true;
    GradBucketer b(comm, o);
    for (size_t n : kParams) b.addParam(n);
    // Rank r holds base + (r - 1) * offset: the sum is 3 * base, the average base.
    auto base = [](size_t p, size_t i) { return valueOf(0, p, i); };
    auto offset = [](size_t p, size_t i) { return valueOf(1, p, i) / 2; };
    for (size_t p = 0; p < kParams.size(); ++p) {
      fill(b.grad(p), f, [&](size_t i) { return base(p, i) + (ctx.rank - 1) * offset(p, i); });
      b.markReady(p);
    }
    b.finalize();
    for (size_t p = 0; p < kParams.size(); ++p)
      requireEqual(
          ctx, b.grad(p), f, [&](size_t i) { return base(p, i); },
          std::string(f.name) + " average of param " + std::to_string(p));
  });
}

TEST_P(OverlapTypes, ReduceScatterShardsPaddedBuckets) {
  const Format f = GetParam();
  runOnRanks(kRanks, [&](RankContext& ctx, Comm& comm) {
    GradBucketer b(comm, bucketOptions(f, GradBucketer::Mode::ReduceScatter));
    for (size_t n : kParams) b.addParam(n);
    for (size_t p = 0; p < kParams.size(); ++p) {
      fill(b.grad(p), f, [&](size_t i) { return valueOf(ctx.rank, p, i); });
      b.markReady(p);
    }
    b.finalize();
    for (size_t k = 0; k < b.bucketCount(); ++k) {
      const TensorView shard = b.shard(k);
      ctx.require(b.bucket(k).count() == shard.count() * kRanks, "padded to the ranks");
      // Element e of the bucket is a parameter's element, or zero padding.
      auto expected = [&](size_t i) {
        const size_t e = ctx.rank * shard.count() + i;
        size_t at = 0;
        for (size_t p : b.bucketParams(k)) {
          if (e >= at && e < at + kParams[p]) return sumOf(kRanks, p, e - at);
          at += kParams[p];
        }
        return 0.0;
      };
      requireEqual(ctx, shard, f, expected, std::string(f.name) + " shard " + std::to_string(k));
    }
  });
}

TEST_P(OverlapTypes, HookGetsTheBucketsElementType) {
  const Format f = GetParam();
  runOnRanks(kRanks, [&](RankContext& ctx, Comm& comm) {
    GradBucketer::Options o = bucketOptions(f, GradBucketer::Mode::Hook);
    std::vector<size_t> counts;
    o.hook = [&](Comm& c, TensorView bucket) {
      ctx.require(bucket.type() == f.type, "hook sees the element type");
      counts.push_back(bucket.count());
      return c.allReduce(bucket.data(), bucket.data(), bucket.count(), bucket.type(), ncclMax);
    };
    GradBucketer b(comm, o);
    for (size_t n : kParams) b.addParam(n);
    for (size_t p = 0; p < kParams.size(); ++p) {
      fill(b.grad(p), f, [&](size_t i) { return valueOf(ctx.rank, p, i); });
      b.markReady(p);
    }
    b.finalize();
    ctx.require(counts == std::vector<size_t>({10, 14, 5, 11}), "one hook call per bucket");
    for (size_t p = 0; p < kParams.size(); ++p)
      requireEqual(
          ctx, b.grad(p), f,
          [&](size_t i) {
            double most = valueOf(0, p, i);
            for (int r = 1; r < kRanks; ++r) most = std::max(most, valueOf(r, p, i));
            return most;
          },
          std::string(f.name) + " max of param " + std::to_string(p));
  });
}

TEST_P(OverlapTypes, PrefetcherGathersAndReducesInItsType) {
  const Format f = GetParam();
  runOnRanks(kRanks, [&](RankContext& ctx, Comm& comm) {
    ParamPrefetcher::Options o;
    o.type = f.type;
    ParamPrefetcher prefetcher(comm, o);
    const std::vector<size_t> shards{5, 1, 7};
    for (size_t s : shards) prefetcher.addUnit(s);
    for (size_t u = 0; u < shards.size(); ++u)
      fill(prefetcher.shard(u), f, [&](size_t i) { return valueOf(ctx.rank, u, i); });
    for (size_t u = 0; u < shards.size(); ++u) {
      ctx.require(prefetcher.unshard(u).wait(std::chrono::seconds(60)), "gather completes");
      ctx.require(prefetcher.full(u).count() == shards[u] * kRanks, "gathered size");
      requireEqual(
          ctx, prefetcher.full(u), f,
          [&](size_t i) { return valueOf(static_cast<int>(i / shards[u]), u, i % shards[u]); },
          std::string(f.name) + " unit " + std::to_string(u));
      prefetcher.reshard(u);
    }
    // Rank r's full gradient of unit 2 is valueOf(r, 9, .); each keeps its summed shard.
    const size_t u = 2;
    fill(prefetcher.grad(u), f, [&](size_t i) { return valueOf(ctx.rank, 9, i); });
    ctx.require(prefetcher.reduceGrad(u, /*average=*/false).wait(std::chrono::seconds(60)),
                "reduce-scatter completes");
    prefetcher.finalize();
    requireEqual(
        ctx, prefetcher.gradShard(u), f,
        [&](size_t i) { return sumOf(kRanks, 9, ctx.rank * shards[u] + i); },
        std::string(f.name) + " gradient shard");
  });
}

TEST_P(OverlapTypes, PipelineMovesTheElementType) {
  const Format f = GetParam();
  runOnRanks(kRanks, [&](RankContext& ctx, Comm& comm) {
    PipelineScheduler pipe(comm);
    constexpr size_t kCount = 9;
    Buffer out(kCount, f.type, Memory::Host), in(kCount, f.type, Memory::Host);
    fill(out.view(), f, [&](size_t i) { return valueOf(ctx.rank, 0, i); });
    if (!pipe.isLast()) pipe.sendNext(out.view());
    if (!pipe.isFirst()) pipe.recvPrev(in.view());
    ctx.require(pipe.flush().wait(std::chrono::seconds(60)), "tick batch");
    if (!pipe.isFirst())
      requireEqual(
          ctx, in.view(), f, [&](size_t i) { return valueOf(ctx.rank - 1, 0, i); },
          std::string(f.name) + " activation");
  });
}

INSTANTIATE_TEST_SUITE_P(Formats, OverlapTypes, ::testing::Values(kBf16, kFp16),
                         [](const ::testing::TestParamInfo<Format>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace prism::overlap
