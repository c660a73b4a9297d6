// Ranks that disagree about an operation: different counts, types, reduction ops, roots or
// collectives, or a stream shifted by one rank's rejected call. None of these may end in
// ncclSuccess with wrong data or touch memory past a buffer's end: each is an
// ncclInvalidUsage whose reason names both ranks' operations, on every rank (a rank that
// only sends may return first and sees it at its next call), well before PRISM_TIMEOUT_S.
// ncclCommGetAsyncError reports it afterwards.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nccl.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

using Clock = std::chrono::steady_clock;

/// Every case must fail far sooner than this; the harness's own limit is a backstop.
constexpr const char* kTimeoutSeconds = "60";
constexpr auto kPromptly = std::chrono::seconds(10);

std::string lastError(ncclComm_t comm) {
  const char* text = ncclGetLastError(comm);
  return text ? text : "";
}

/// Requires `result` to be the mismatch error, with a reason naming `mine` and `theirs`
/// (substrings of the two fingerprints), and the communicator to report it as failed.
void requireMismatch(RankContext& ctx, ncclResult_t result, const std::string& call,
                     const std::string& mine, const std::string& theirs) {
  const std::string why = lastError(ctx.comm);
  ctx.require(result == ncclInvalidUsage, call + " returned " + resultName(result) +
                                              " instead of ncclInvalidUsage (" + why + ")");
  ctx.require(why.find(mine) != std::string::npos && why.find(theirs) != std::string::npos,
              call + ": the reason does not name '" + mine + "' and '" + theirs + "': " + why);
  ncclResult_t async = ncclSuccess;
  ctx.requireOk(ncclCommGetAsyncError(ctx.comm, &async), "ncclCommGetAsyncError");
  ctx.require(async == ncclInvalidUsage,
              "ncclCommGetAsyncError after the mismatch reports " + resultName(async));
}

struct Call {
  std::function<ncclResult_t(RankContext&)> run;
  std::string fingerprint;  ///< a piece of describe() of this call's fingerprint
};

/// Runs `calls[rank]` on every rank, then one allreduce that all ranks agree on. A rank
/// whose part of the mismatched call completes (it only sent) must fail the allreduce;
/// every rank must fail one of the two with a reason naming its own call and a peer's.
void expectMismatch(int nranks, Mode mode, const std::vector<Call>& calls) {
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", kTimeoutSeconds);
  runRanks(nranks, mode, [&](RankContext& ctx) {
    const Call& mine = calls[static_cast<size_t>(ctx.rank)];
    const Call& other = calls[static_cast<size_t>(ctx.rank == 0 ? 1 : 0)];
    const auto start = Clock::now();
    ncclResult_t result = mine.run(ctx);
    if (result == ncclSuccess) {
      int32_t value = ctx.rank + 1, sum = 0;
      result = ncclAllReduce(&value, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr);
      ctx.require(result != ncclSuccess,
                  "both the mismatched call and the next allreduce succeeded (sum " +
                      std::to_string(sum) + ")");
      const std::string why = lastError(ctx.comm);
      ctx.require(result == ncclInvalidUsage && why.find("different") != std::string::npos,
                  "the next allreduce returned " + resultName(result) + ": " + why);
    } else {
      requireMismatch(ctx, result, "the mismatched call", mine.fingerprint, other.fingerprint);
    }
    ctx.require(Clock::now() - start < kPromptly, "the mismatch took too long to report");
  });
}

ncclResult_t allReduce(RankContext& ctx, size_t count, ncclDataType_t type, ncclRedOp_t op) {
  std::vector<double> send(count, 1.0), recv(count, 0.0);  // 8 bytes per element, any type
  return ncclAllReduce(send.data(), recv.data(), count, type, op, ctx.comm, nullptr);
}

ncclResult_t broadcast(RankContext& ctx, size_t count, int root) {
  std::vector<int32_t> data(count, 779);
  return ncclBroadcast(data.data(), data.data(), count, ncclInt32, root, ctx.comm, nullptr);
}

Call allReduceCall(size_t count, ncclDataType_t type, ncclRedOp_t op, std::string fingerprint) {
  return {[=](RankContext& ctx) { return allReduce(ctx, count, type, op); },
          std::move(fingerprint)};
}

class Mismatch : public ::testing::TestWithParam<Mode> {};

TEST_P(Mismatch, SumAgainstMax) {
  expectMismatch(2, GetParam(),
                 {allReduceCall(16, ncclFloat32, ncclSum, "float, sum"),
                  allReduceCall(16, ncclFloat32, ncclMax, "float, max")});
}

TEST_P(Mismatch, FloatAgainstDoubleOfTheSameBytes) {
  expectMismatch(2, GetParam(),
                 {allReduceCall(32, ncclFloat32, ncclSum, "count 32, float"),
                  allReduceCall(16, ncclFloat64, ncclSum, "count 16, double")});
}

TEST_P(Mismatch, AllReduceAgainstBroadcast) {
  expectMismatch(2, GetParam(),
                 {allReduceCall(8, ncclInt32, ncclSum, "AllReduce"),
                  {[](RankContext& ctx) { return broadcast(ctx, 8, 0); }, "Broadcast"}});
}

TEST_P(Mismatch, Root0AgainstRoot1) {
  expectMismatch(2, GetParam(),
                 {{[](RankContext& ctx) { return broadcast(ctx, 8, 0); }, "root 0"},
                  {[](RankContext& ctx) { return broadcast(ctx, 8, 1); }, "root 1"}});
}

TEST_P(Mismatch, DifferentCounts) {
  expectMismatch(2, GetParam(),
                 {allReduceCall(100, ncclFloat32, ncclSum, "count 100,"),
                  allReduceCall(200, ncclFloat32, ncclSum, "count 200,")});
}

// One rank on the direct host path (at or above its threshold), the other on the FIFOs.
TEST_P(Mismatch, DirectAgainstFifo) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "4096");
  expectMismatch(2, GetParam(),
                 {allReduceCall(100, ncclFloat32, ncclSum, "count 100,"),
                  allReduceCall(4096, ncclFloat32, ncclSum, "count 4096,")});
}

TEST_P(Mismatch, SendCountAgainstRecvCount) {
  expectMismatch(2, GetParam(),
                 {{[](RankContext& ctx) {
                     std::vector<float> data(10, 1.0f);
                     return ncclSend(data.data(), 10, ncclFloat32, 1, ctx.comm, nullptr);
                   },
                   "count 10,"},
                  {[](RankContext& ctx) {
                     std::vector<float> data(20, 0.0f);
                     return ncclRecv(data.data(), 20, ncclFloat32, 0, ctx.comm, nullptr);
                   },
                   "count 20,"}});
}

// Three ranks on a ring: the rank that disagrees is not every rank's neighbour, so the
// others learn of it from the notice of the rank that found it.
TEST_P(Mismatch, OneOfThreeRanksDisagrees) {
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", kTimeoutSeconds);
  testing::ScopedEnv ring("PRISM_ALGO", "ring");
  runRanks(3, GetParam(), [&](RankContext& ctx) {
    const auto start = Clock::now();
    const size_t count = ctx.rank == 2 ? 300000 : 200000;
    ncclResult_t result = allReduce(ctx, count, ncclFloat32, ncclSum);
    const std::string why = lastError(ctx.comm);
    ctx.require(result == ncclInvalidUsage,
                "allreduce returned " + resultName(result) + ": " + why);
    ctx.require(why.find("300000") != std::string::npos || why.find("gave up") != std::string::npos,
                "the reason names neither the odd count nor a peer giving up: " + why);
    ctx.require(Clock::now() - start < kPromptly, "the mismatch took too long to report");
  });
}

// The stream must not shift: rank 1's broadcast is rejected (root 5 of 2 ranks), so its
// next call meets rank 0's broadcast, which it must refuse rather than take as its own.
TEST_P(Mismatch, RejectedCallDoesNotShiftTheStream) {
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", kTimeoutSeconds);
  runRanks(2, GetParam(), [&](RankContext& ctx) {
    std::vector<int32_t> data(4, 779);
    const int root = ctx.rank == 0 ? 0 : 5;
    ncclResult_t result =
        ncclBroadcast(data.data(), data.data(), 4, ncclInt32, root, ctx.comm, nullptr);
    ctx.require(result == (ctx.rank == 0 ? ncclSuccess : ncclInvalidArgument),
                "broadcast with root " + std::to_string(root) + " returned " + resultName(result));
    int32_t value = ctx.rank + 1, sum = 0;
    result = ncclAllReduce(&value, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr);
    const std::string why = lastError(ctx.comm);
    ctx.require(result == ncclInvalidUsage, "allreduce returned " + resultName(result) + " with " +
                                                std::to_string(sum) + ": " + why);
    if (ctx.rank == 1) {
      ctx.require(
          why.find("AllReduce") != std::string::npos && why.find("Broadcast") != std::string::npos,
          "the reason does not name both operations: " + why);
    }
  });
}

std::string modeParamName(const ::testing::TestParamInfo<Mode>& info) {
  return modeName(info.param);
}

INSTANTIATE_TEST_SUITE_P(Modes, Mismatch, ::testing::Values(Mode::Threads, Mode::Processes),
                         modeParamName);

// The direct host path reads peers' buffers in place. With counts 100000 and 200000 each
// rank would cut its slices from its own count and read and write past the smaller rank's
// buffers. Both ranks must refuse before any byte moves: the output keeps its fill.
void directCountsRefused(Mode mode, size_t small, bool ncclMem) {
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", kTimeoutSeconds);
  runRanks(2, mode, [&](RankContext& ctx) {
    const size_t count = ctx.rank == 0 ? small : 2 * small;
    const size_t bytes = count * sizeof(float);
    float* send = nullptr;
    float* recv = nullptr;
    std::vector<float> hostSend, hostRecv;
    if (ncclMem) {
      ctx.requireOk(ncclMemAlloc(reinterpret_cast<void**>(&send), bytes), "ncclMemAlloc(send)");
      ctx.requireOk(ncclMemAlloc(reinterpret_cast<void**>(&recv), bytes), "ncclMemAlloc(recv)");
    } else {
      hostSend.resize(count);
      hostRecv.resize(count);
      send = hostSend.data();
      recv = hostRecv.data();
    }
    for (size_t i = 0; i < count; ++i) send[i] = 1.0f, recv[i] = -7.0f;
    ncclResult_t result = ncclAllReduce(send, recv, count, ncclFloat32, ncclSum, ctx.comm, nullptr);
    size_t touched = 0;
    for (size_t i = 0; i < count; ++i) touched += recv[i] != -7.0f;
    if (ncclMem) {
      ncclMemFree(send);
      ncclMemFree(recv);
    }
    requireMismatch(ctx, result, "allreduce", "count " + std::to_string(count) + ",",
                    "count " + std::to_string(ctx.rank == 0 ? 2 * small : small) + ",");
    ctx.require(touched == 0, std::to_string(touched) + " output elements were written");
  });
}

TEST(MismatchDirect, ThreadsDifferentCounts) { directCountsRefused(Mode::Threads, 100000, false); }

TEST(MismatchDirect, ProcessesNcclMemAllocDifferentCounts) {
  directCountsRefused(Mode::Processes, (size_t{8} << 20) / sizeof(float), true);
}

}  // namespace
}  // namespace prism::test
