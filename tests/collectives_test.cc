// The correctness matrix of the NCCL collectives, through the public C API only:
// every collective x 12 types x every operator x counts {0, 1, 7, 4099, 1 Mi + 3} x in and
// out of place x roots {0, n-1}, on 1, 2, 3, 5 and 8 ranks as threads, with a smaller
// cross-check where the ranks are processes. One TEST per (collective, rank count) so
// CTest can run them in parallel; each initializes its communicator once.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "nccl.h"
#include "tests/harness/collective_check.h"
#include "tests/harness/dtype_traits.h"
#include "tests/harness/float_format.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/reference.h"

namespace prism::test {
namespace {

constexpr size_t kBigCount = 1048576 + 3;
constexpr std::array<size_t, 5> kCounts = {0, 1, 7, 4099, kBigCount};

// The element types of one matrix test. Reducing collectives split them in two halves so
// that each test stays well under a minute on two cores.
enum class Types { All, Integers, Floats };

std::vector<ncclDataType_t> typesOf(Types types) {
  std::vector<ncclDataType_t> out;
  for (ncclDataType_t t : kAllDtypes) {
    const bool isFloat = dtypeInfo(t).kind == ElementKind::Float;
    if (types == Types::All || (types == Types::Floats) == isFloat) out.push_back(t);
  }
  return out;
}

void runMatrix(Coll coll, int nranks, Types types) {
  const MatrixScope scope{
      typesOf(types), {kAllOps.begin(), kAllOps.end()}, {kCounts.begin(), kCounts.end()}};
  RunOptions options;
  options.sharedBytes = checkerSharedBytes(coll, nranks, kBigCount);
  options.timeout = std::chrono::seconds(540);
  const auto start = std::chrono::steady_clock::now();
  runRanks(
      nranks, Mode::Threads, [&](RankContext& ctx) { runCases(ctx, coll, scope); }, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ timing ] %s on %d ranks: %.2f s\n", collectiveName(coll), nranks, seconds);
}

std::string ranksName(const ::testing::TestParamInfo<int>& info) {
  return "n" + std::to_string(info.param);
}

// Data movement: every type in one test per (collective, rank count).
class Matrix : public ::testing::TestWithParam<int> {};

TEST_P(Matrix, Broadcast) { runMatrix(Coll::Broadcast, GetParam(), Types::All); }
TEST_P(Matrix, AllGather) { runMatrix(Coll::AllGather, GetParam(), Types::All); }
TEST_P(Matrix, AlltoAll) { runMatrix(Coll::AllToAll, GetParam(), Types::All); }
TEST_P(Matrix, Gather) { runMatrix(Coll::Gather, GetParam(), Types::All); }
TEST_P(Matrix, Scatter) { runMatrix(Coll::Scatter, GetParam(), Types::All); }
TEST_P(Matrix, SendRecvRing) { runMatrix(Coll::SendRecv, GetParam(), Types::All); }

INSTANTIATE_TEST_SUITE_P(Ranks, Matrix, ::testing::Values(1, 2, 3, 5, 8), ranksName);

// Reductions: every operator, one test per (collective, rank count, half of the types).
class ReduceMatrix : public ::testing::TestWithParam<std::tuple<int, Types>> {
 protected:
  void run(Coll coll) { runMatrix(coll, std::get<0>(GetParam()), std::get<1>(GetParam())); }
};

TEST_P(ReduceMatrix, AllReduce) { run(Coll::AllReduce); }
TEST_P(ReduceMatrix, Reduce) { run(Coll::Reduce); }
TEST_P(ReduceMatrix, ReduceScatter) { run(Coll::ReduceScatter); }

INSTANTIATE_TEST_SUITE_P(Ranks, ReduceMatrix,
                         ::testing::Combine(::testing::Values(1, 2, 3, 5, 8),
                                            ::testing::Values(Types::Integers, Types::Floats)),
                         [](const ::testing::TestParamInfo<std::tuple<int, Types>>& info) {
                           return "n" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) == Types::Integers ? "_integers"
                                                                              : "_floats");
                         });

// The same checks with every rank in its own forked process.
class ProcessCrossCheck : public ::testing::TestWithParam<int> {};

TEST_P(ProcessCrossCheck, AllCollectives) {
  const int nranks = GetParam();
  const MatrixScope scope{
      {ncclFloat32, ncclFloat16, ncclBfloat16, ncclInt32, ncclUint8, ncclFloat8e4m3},
      {RefOp::Sum, RefOp::Prod, RefOp::Max, RefOp::Avg, RefOp::PreMulSum},
      {0, 7, 4099, 65536 + 3}};
  const std::array<Coll, 9> colls = {Coll::AllReduce, Coll::Broadcast,     Coll::Reduce,
                                     Coll::AllGather, Coll::ReduceScatter, Coll::AllToAll,
                                     Coll::Gather,    Coll::Scatter,       Coll::SendRecv};
  runCollectiveMatrix(nranks, Mode::Processes, colls, scope);
}

INSTANTIATE_TEST_SUITE_P(Ranks, ProcessCrossCheck, ::testing::Values(2, 3), ranksName);

// PreMulSum multiplies each rank's own input by that rank's scalar before summing.
// ncclScalarDevice: the scalar is read from the pointer at every collective;
// ncclScalarHostImmediate: it is copied when the op is created.
TEST(PreMulSum, ScalarResidence) {
  runRanks(3, Mode::Threads, [](RankContext& ctx) {
    constexpr int kCount = 5;
    const int r = ctx.rank;
    std::vector<float> in(kCount), out(kCount);
    for (int i = 0; i < kCount; ++i) in[i] = static_cast<float>(r + 1 + i);
    // What the sum of scale(rank) * input(rank) must be, for per-rank scales.
    auto expectSum = [&](auto scaleOf, const std::string& what) {
      for (int i = 0; i < kCount; ++i) {
        double want = 0;
        for (int q = 0; q < ctx.nranks; ++q) want += scaleOf(q) * (q + 1 + i);
        ctx.expect(out[i] == static_cast<float>(want), what + ": element " + std::to_string(i) +
                                                           " is " + std::to_string(out[i]) +
                                                           ", expected " + std::to_string(want));
      }
    };

    float deviceScalar = static_cast<float>(r + 2);
    ncclRedOp_t deviceOp;
    ctx.requireOk(
        ncclRedOpCreatePreMulSum(&deviceOp, &deviceScalar, ncclFloat32, ncclScalarDevice, ctx.comm),
        "ncclRedOpCreatePreMulSum(ncclScalarDevice)");
    ctx.require(static_cast<int>(deviceOp) >= static_cast<int>(ncclNumOps),
                "a PreMulSum op must be numbered from ncclNumOps up");
    ctx.requireOk(
        ncclAllReduce(in.data(), out.data(), kCount, ncclFloat32, deviceOp, ctx.comm, nullptr),
        "ncclAllReduce(device scalar)");
    expectSum([](int q) { return q + 2.0; }, "device scalar rank+2");
    deviceScalar = 0.5f * static_cast<float>(r + 1);  // changed between calls
    ctx.requireOk(
        ncclAllReduce(in.data(), out.data(), kCount, ncclFloat32, deviceOp, ctx.comm, nullptr),
        "ncclAllReduce(device scalar changed)");
    expectSum([](int q) { return 0.5 * (q + 1); }, "device scalar changed to (rank+1)/2");

    float immediate = 3.0f;
    ncclRedOp_t immediateOp;
    ctx.requireOk(ncclRedOpCreatePreMulSum(&immediateOp, &immediate, ncclFloat32,
                                           ncclScalarHostImmediate, ctx.comm),
                  "ncclRedOpCreatePreMulSum(ncclScalarHostImmediate)");
    ctx.require(immediateOp != deviceOp, "two live PreMulSum ops share one value");
    immediate = 100.0f;  // must not matter: the value was copied at creation
    ctx.requireOk(
        ncclAllReduce(in.data(), out.data(), kCount, ncclFloat32, immediateOp, ctx.comm, nullptr),
        "ncclAllReduce(immediate scalar)");
    expectSum([](int) { return 3.0; }, "host-immediate scalar 3 (changed to 100 after creation)");
    // Both ops stay usable side by side.
    ctx.requireOk(
        ncclAllReduce(in.data(), out.data(), kCount, ncclFloat32, deviceOp, ctx.comm, nullptr),
        "ncclAllReduce(device op again)");
    expectSum([](int q) { return 0.5 * (q + 1); }, "device op after creating another op");
    ctx.requireOk(ncclRedOpDestroy(immediateOp, ctx.comm), "ncclRedOpDestroy(immediate)");
    ctx.requireOk(ncclRedOpDestroy(deviceOp, ctx.comm), "ncclRedOpDestroy(device)");

    // A double-typed op with a device scalar, used by Reduce and ReduceScatter.
    double dscale = 4.0;
    ncclRedOp_t doubleOp;
    ctx.requireOk(
        ncclRedOpCreatePreMulSum(&doubleOp, &dscale, ncclFloat64, ncclScalarDevice, ctx.comm),
        "ncclRedOpCreatePreMulSum(double)");
    std::vector<double> din(ctx.nranks, r + 1.0), dout(1, -1);
    ctx.requireOk(
        ncclReduceScatter(din.data(), dout.data(), 1, ncclFloat64, doubleOp, ctx.comm, nullptr),
        "ncclReduceScatter(PreMulSum double)");
    ctx.expect(dout[0] == 4.0 * 6,
               "ReduceScatter PreMulSum(4) of 1+2+3 gave " + std::to_string(dout[0]));
    ctx.requireOk(ncclRedOpDestroy(doubleOp, ctx.comm), "ncclRedOpDestroy(double)");
  });
}

// Buffers NCCL documents as unused off the root may be null there.
TEST(RootedCollectives, BuffersUnusedOffRootMayBeNull) {
  runRanks(3, Mode::Threads, [](RankContext& ctx) {
    constexpr int kRoot = 1;
    const bool root = ctx.rank == kRoot;
    const int n = ctx.nranks;
    std::vector<int32_t> mine(4, ctx.rank + 1), all(4 * n, -1), one(4, -1);
    ctx.requireOk(ncclReduce(mine.data(), root ? one.data() : nullptr, 4, ncclInt32, ncclSum, kRoot,
                             ctx.comm, nullptr),
                  "ncclReduce with a null recvbuff off the root");
    if (root) ctx.expect(one[3] == 6, "Reduce result " + std::to_string(one[3]) + ", expected 6");
    ctx.requireOk(ncclBroadcast(root ? mine.data() : nullptr, one.data(), 4, ncclInt32, kRoot,
                                ctx.comm, nullptr),
                  "ncclBroadcast with a null sendbuff off the root");
    ctx.expect(one[0] == kRoot + 1, "Broadcast gave " + std::to_string(one[0]));
    ctx.requireOk(ncclGather(mine.data(), root ? all.data() : nullptr, 4, ncclInt32, kRoot,
                             ctx.comm, nullptr),
                  "ncclGather with a null recvbuff off the root");
    if (root) {
      for (int q = 0; q < n; ++q) {
        ctx.expect(all[4 * q] == q + 1,
                   "Gather block " + std::to_string(q) + " holds " + std::to_string(all[4 * q]));
      }
    }
    for (int i = 0; i < 4 * n; ++i) all[i] = 10 * (i / 4);
    ctx.requireOk(ncclScatter(root ? all.data() : nullptr, one.data(), 4, ncclInt32, kRoot,
                              ctx.comm, nullptr),
                  "ncclScatter with a null sendbuff off the root");
    ctx.expect(one[2] == 10 * ctx.rank, "Scatter gave " + std::to_string(one[2]));
  });
}

// ---- The harness itself: the checks above are only as strict as these. ----

uint32_t halfOf(double v) { return encodeFloat(v, kHalfFormat); }
uint32_t e4m3Of(double v) { return encodeFloat(v, kE4m3Format); }
uint32_t e5m2Of(double v) { return encodeFloat(v, kE5m2Format); }

TEST(HarnessSelfTest, FloatFormatsKnownValues) {
  EXPECT_EQ(halfOf(1.0), 0x3c00u);
  EXPECT_EQ(halfOf(-2.0), 0xc000u);
  EXPECT_EQ(halfOf(65504.0), 0x7bffu);
  EXPECT_EQ(halfOf(65520.0), 0x7c00u);  // halfway to the next binade: rounds to Inf
  EXPECT_EQ(halfOf(std::ldexp(1.0, -24)), 0x0001u);
  EXPECT_EQ(halfOf(std::ldexp(1.0, -25)), 0x0000u);      // tie: to even (zero)
  EXPECT_EQ(halfOf(3 * std::ldexp(1.0, -25)), 0x0002u);  // tie: to even (2)
  EXPECT_EQ(halfOf(1 + std::ldexp(1.0, -11)), 0x3c00u);
  EXPECT_EQ(halfOf(1 + 3 * std::ldexp(1.0, -11)), 0x3c02u);
  EXPECT_TRUE(std::isnan(decodeFloat(0x7e00, kHalfFormat)));
  EXPECT_EQ(encodeFloat(1.0, kBfloat16Format), 0x3f80u);
  EXPECT_EQ(e4m3Of(448.0), 0x7eu);
  EXPECT_EQ(e4m3Of(464.0), 0x7eu);  // tie between 448 and the NaN slot: to even
  EXPECT_EQ(e4m3Of(1.0), 0x38u);
  EXPECT_EQ(e4m3Of(-1.0), 0xb8u);
  EXPECT_EQ(e4m3Of(std::ldexp(1.0, -9)), 0x01u);
  EXPECT_TRUE(std::isnan(decodeFloat(0x7f, kE4m3Format)));
  EXPECT_EQ(decodeFloat(0x7e, kE4m3Format), 448.0);
  EXPECT_EQ(e5m2Of(1.0), 0x3cu);
  EXPECT_EQ(e5m2Of(57344.0), 0x7bu);
  EXPECT_EQ(e5m2Of(std::ldexp(1.0, -16)), 0x01u);
  EXPECT_TRUE(std::isinf(decodeFloat(0x7c, kE5m2Format)));
  EXPECT_EQ(ulpAt(1.0, kHalfFormat), std::ldexp(1.0, -10));
  EXPECT_EQ(ulpAt(0.0, kE4m3Format), std::ldexp(1.0, -9));
}

TEST(HarnessSelfTest, FloatFormatsRoundTripEveryPattern) {
  for (const FloatFormat* f : {&kHalfFormat, &kBfloat16Format, &kE4m3Format, &kE5m2Format}) {
    for (uint32_t bits = 0; bits < (1u << f->totalBits()); ++bits) {
      if (!isFiniteBits(bits, *f)) continue;
      ASSERT_EQ(encodeFloat(decodeFloat(bits, *f), *f), bits)
          << "format with " << f->mantBits << " mantissa bits";
    }
  }
}

// Cross-checks against two other roundings: the bfloat16 integer trick on float bits, and
// the compiler's own _Float16 conversion.
TEST(HarnessSelfTest, FloatFormatsAgreeWithOtherRoundings) {
  uint64_t state = 12345;
  for (int i = 0; i < 200000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint32_t fbits = static_cast<uint32_t>(state >> 32);
    float f;
    std::memcpy(&f, &fbits, 4);
    if (!std::isfinite(f) || std::fabs(f) > 3e38f) continue;
    const uint32_t trick = (fbits + 0x7fff + ((fbits >> 16) & 1)) >> 16;
    ASSERT_EQ(encodeFloat(f, kBfloat16Format), trick) << "float " << f;
#ifdef __FLT16_MAX__
    const double d = std::ldexp(static_cast<double>(static_cast<int32_t>(state)), -20);
    const _Float16 h = static_cast<_Float16>(d);
    uint16_t hbits;
    std::memcpy(&hbits, &h, 2);
    ASSERT_EQ(halfOf(d), hbits) << "double " << d;
#endif
  }
}

TEST(HarnessSelfTest, ComparisonsCatchOneWrongElement) {
  for (ncclDataType_t dtype : kAllDtypes) {
    for (RefOp op : kAllOps) {
      const InputSpec spec{dtype, op};
      constexpr size_t kN = 64;
      const size_t eb = expectedElementBytes(spec);
      std::vector<unsigned char> expected(kN * eb), actual(kN * 8);
      referenceReduce(spec, 5, 0, kN, expected.data());
      if (eb == 8 && dtypeInfo(dtype).kind == ElementKind::Float && dtypeSize(dtype) != 8) {
        // Avg over floats: build the actual values by rounding the quotients.
        for (size_t k = 0; k < kN; ++k) {
          double q;
          std::memcpy(&q, &expected[k * 8], 8);
          encodeScalar(dtype, q, &actual[k * dtypeSize(dtype)]);
        }
      } else if (eb == 8 && dtypeInfo(dtype).kind == ElementKind::Float) {
        std::memcpy(actual.data(), expected.data(), kN * 8);
      } else {
        std::memcpy(actual.data(), expected.data(), kN * eb);
      }
      EXPECT_EQ(compareReduced(spec, expected.data(), actual.data(), kN, 0), "")
          << dtypeName(dtype) << " " << refOpName(op);
      // Flip the second-lowest bit of element 9: two units in the last place.
      actual[9 * dtypeSize(dtype)] ^= 2;
      EXPECT_NE(compareReduced(spec, expected.data(), actual.data(), kN, 0).find("[9]"),
                std::string::npos)
          << dtypeName(dtype) << " " << refOpName(op);
    }
    const InputSpec moved{dtype, std::nullopt};
    std::vector<unsigned char> data(100 * dtypeSize(dtype));
    generateInput(moved, 2, 50, 100, data.data());
    EXPECT_EQ(compareMoved(moved, 2, 50, data.data(), 100, 0), "");
    EXPECT_NE(compareMoved(moved, 1, 50, data.data(), 100, 0), "");
    data[7 * dtypeSize(dtype)] ^= 0x80;
    EXPECT_NE(compareMoved(moved, 2, 50, data.data(), 100, 0).find("[7]"), std::string::npos);
  }
}

TEST(HarnessSelfTest, InputsDependOnRankIndexTypeAndPattern) {
  const InputSpec a{ncclInt32, RefOp::Max};
  const InputSpec b{ncclInt32, RefOp::Prod};
  const InputSpec c{ncclInt32, RefOp::Min};  // draws from the same pattern as Max
  const InputSpec d{ncclUint32, RefOp::Max};
  std::vector<int32_t> x(256), y(256), z(256), w(256);
  generateInput(a, 0, 0, 256, x.data());
  generateInput(a, 1, 0, 256, y.data());
  generateInput(b, 0, 0, 256, z.data());
  generateInput(d, 0, 0, 256, w.data());
  EXPECT_NE(x, y);
  EXPECT_NE(x, z);
  EXPECT_NE(x, w);
  EXPECT_EQ(inputPattern(a), inputPattern(c));
  EXPECT_NE(inputPattern(a), inputPattern(b));
  generateInput(c, 0, 0, 256, z.data());
  EXPECT_EQ(x, z);
  generateInput(a, 0, 100, 156, y.data());
  EXPECT_TRUE(std::equal(y.begin(), y.begin() + 156, x.begin() + 100));
  // The reference from stored inputs equals the one that regenerates them.
  for (ncclDataType_t dtype : kAllDtypes) {
    for (RefOp op : kAllOps) {
      const InputSpec spec{dtype, op};
      constexpr int kRanks = 5;
      constexpr size_t kN = 300;
      std::vector<std::vector<unsigned char>> inputs(kRanks, std::vector<unsigned char>(kN * 8));
      std::vector<const void*> pointers;
      for (int r = 0; r < kRanks; ++r) {
        generateInput(spec, r, 0, kN, inputs[r].data());
        pointers.push_back(inputs[r].data());
      }
      std::vector<unsigned char> fromHash(kN * 8), fromInputs(kN * 8);
      referenceReduce(spec, kRanks, 10, kN - 10, fromHash.data());
      referenceReduceInputs(spec, kRanks, pointers.data(), 10, kN - 10, fromInputs.data());
      EXPECT_EQ(fromHash, fromInputs) << dtypeName(dtype) << " " << refOpName(op);
    }
  }
}

void failOnRankOne(Mode mode) {
  RunOptions options;
  options.initComm = false;
  runRanks(
      3, mode,
      [](RankContext& ctx) {
        if (ctx.rank == 1) ctx.fail("boom");
        ctx.barrier();  // the other ranks stop here without a failure of their own
      },
      options);
}

void crashRankTwo() {
  RunOptions options;
  options.initComm = false;
  runRanks(
      3, Mode::Processes,
      [](RankContext& ctx) {
        if (ctx.rank == 2) std::abort();
      },
      options);
}

void hangRankZero() {
  RunOptions options;
  options.initComm = false;
  options.timeout = std::chrono::seconds(2);
  runRanks(
      2, Mode::Processes,
      [](RankContext& ctx) {
        if (ctx.rank == 0) std::this_thread::sleep_for(std::chrono::hours(1));
      },
      options);
}

TEST(HarnessSelfTest, ReportsTheFailingRank) {
  EXPECT_NONFATAL_FAILURE(failOnRankOne(Mode::Threads), "rank 1: boom");
  EXPECT_NONFATAL_FAILURE(failOnRankOne(Mode::Processes), "rank 1: boom");
  EXPECT_NONFATAL_FAILURE(crashRankTwo(), "rank 2: process killed by signal");
  EXPECT_NONFATAL_FAILURE(hangRankZero(), "rank 0: did not finish");
}

}  // namespace
}  // namespace prism::test
