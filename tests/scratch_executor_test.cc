// The executor's scratch memory, through the public C API: PAT ReduceScatter and the
// binomial Gather and Scatter (forced with PRISM_ALGO) give the right results, alone and in
// one group, in and out of place, with NULL for the buffers non-root ranks do not own; and
// the communicator allocates scratch only when a call needs more than any call before
// (exactly what the rank's steps name), never per call, and none for schedules without it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "nccl.h"
#include "src/api/handle.h"
#include "src/comm/communicator.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

/// Rank r's contribution to element i of block b: small integers, so float sums are exact.
float contribution(int r, int b, size_t i) {
  return static_cast<float>((r + 1) * 3 + b * 7 + static_cast<int>(i % 11));
}

/// Scratch blocks rank r names in PAT ReduceScatter: the partial sums of positions 2, 4,
/// ... <= n-2 (every rank is at every position of some tree).
int patBlocks(int n) {
  int blocks = 0;
  for (int u = 2; u + 1 < n; u += 2) ++blocks;
  return blocks;
}

/// Scratch blocks of a binomial Gather/Scatter relay: its subtree [v, v + lowestBit(v))
/// within n, less its own share; none at the root.
int treeBlocks(int rank, int root, int n) {
  const int v = ((rank - root) % n + n) % n;
  return v == 0 ? 0 : std::min(v & -v, n - v) - 1;
}

/// Checks the scratch memory after a call that needed `bytes`: it is the largest need so
/// far, and its address moved only if it had to grow.
class ScratchWatch {
 public:
  explicit ScratchWatch(RankContext& ctx) : ctx_(ctx), comm_(ctx.comm->get()) {}
  void expectAfter(size_t bytes, const std::string& what) {
    const bool grows = bytes > most_;
    most_ = std::max(most_, bytes);
    ctx_.expect(comm_.scratchBytes() == most_, what + ": scratch is " +
                                                   std::to_string(comm_.scratchBytes()) +
                                                   " bytes, expected " + std::to_string(most_));
    if (!grows && address_ != nullptr) {
      ctx_.expect(comm_.scratchData() == address_, what + ": scratch moved without growing");
    }
    address_ = comm_.scratchData();
  }

 private:
  RankContext& ctx_;
  const Communicator& comm_;
  size_t most_ = 0;
  const std::byte* address_ = nullptr;
};

void expectEqual(RankContext& ctx, const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] != want[i]) {
      ctx.expect(false, what + " element " + std::to_string(i) + ": got " + std::to_string(got[i]) +
                            ", expected " + std::to_string(want[i]));
      return;
    }
  }
}

void reduceScatter(RankContext& ctx, size_t count, bool inPlace) {
  const int n = ctx.nranks, r = ctx.rank;
  std::vector<float> buffer(count * n), out(count), want(count);
  for (int b = 0; b < n; ++b) {
    for (size_t i = 0; i < count; ++i) buffer[b * count + i] = contribution(r, b, i);
  }
  for (size_t i = 0; i < count; ++i) {
    for (int q = 0; q < n; ++q) want[i] += contribution(q, r, i);
  }
  float* recv = inPlace ? buffer.data() + r * count : out.data();
  ctx.requireOk(
      ncclReduceScatter(buffer.data(), recv, count, ncclFloat32, ncclSum, ctx.comm, nullptr),
      "ncclReduceScatter");
  expectEqual(ctx, std::vector<float>(recv, recv + count), want,
              std::string("ReduceScatter") + (inPlace ? " in place" : "") + " count " +
                  std::to_string(count));
}

void gatherAndScatter(RankContext& ctx, size_t count, int root, ScratchWatch& watch) {
  const int n = ctx.nranks, r = ctx.rank;
  const bool isRoot = r == root;
  const std::string where = " count " + std::to_string(count) + " root " + std::to_string(root);
  std::vector<float> mine(count), all(isRoot ? count * n : 0);
  for (size_t i = 0; i < count; ++i) mine[i] = contribution(r, 0, i);
  // Non-root ranks pass NULL for the buffer they do not own.
  ctx.requireOk(ncclGather(mine.data(), isRoot ? all.data() : nullptr, count, ncclFloat32, root,
                           ctx.comm, nullptr),
                "ncclGather" + where);
  if (isRoot) {
    std::vector<float> want(count * n);
    for (int q = 0; q < n; ++q) {
      for (size_t i = 0; i < count; ++i) want[q * count + i] = contribution(q, 0, i);
    }
    expectEqual(ctx, all, want, "Gather" + where);
  }
  watch.expectAfter(treeBlocks(r, root, n) * count * sizeof(float), "Gather" + where);

  std::vector<float> shares(isRoot ? count * n : 0), got(count), want(count);
  for (int q = 0; isRoot && q < n; ++q) {
    for (size_t i = 0; i < count; ++i) shares[q * count + i] = contribution(root, q, i);
  }
  for (size_t i = 0; i < count; ++i) want[i] = contribution(root, r, i);
  ctx.requireOk(ncclScatter(isRoot ? shares.data() : nullptr, got.data(), count, ncclFloat32, root,
                            ctx.comm, nullptr),
                "ncclScatter" + where);
  expectEqual(ctx, got, want, "Scatter" + where);
  watch.expectAfter(treeBlocks(r, root, n) * count * sizeof(float), "Scatter" + where);
}

class ScratchExecutor : public ::testing::TestWithParam<int> {};

TEST_P(ScratchExecutor, GrowsOnlyWhenACallNeedsMoreAndGivesTheRightResults) {
  const int n = GetParam();
  // Only pat can run ReduceScatter and only tree Gather and Scatter from this list; other
  // collectives fall back to the model.
  testing::ScopedEnv algo("PRISM_ALGO", "pat,tree");
  // Small FIFOs: the larger counts take many rounds, each reusing the scratch blocks.
  testing::ScopedEnv buffSize("PRISM_BUFFSIZE", "8192");
  testing::ScopedEnv slots("PRISM_SLOTS", "2");
  RunOptions options;
  options.timeout = std::chrono::seconds(300);
  runRanks(
      n, Mode::Threads,
      [&](RankContext& ctx) {
        ScratchWatch watch(ctx);
        watch.expectAfter(0, "a new communicator");
        // Growing, repeated (the replayed plan), smaller again, then the largest.
        for (size_t count : {size_t{1}, size_t{7}, size_t{1009}, size_t{1009}, size_t{1009},
                             size_t{13}, size_t{30011}, size_t{0}}) {
          for (bool inPlace : {false, true}) {
            reduceScatter(ctx, count, inPlace);
            watch.expectAfter(patBlocks(n) * count * sizeof(float),
                              "ReduceScatter count " + std::to_string(count));
          }
        }
        for (size_t count : {size_t{5}, size_t{4099}}) {
          for (int root : {0, n - 1, n / 2}) gatherAndScatter(ctx, count, root, watch);
        }
        // A schedule without scratch leaves it alone.
        std::vector<float> value(64, 1.0f);
        ctx.requireOk(ncclAllReduce(value.data(), value.data(), value.size(), ncclFloat32, ncclSum,
                                    ctx.comm, nullptr),
                      "ncclAllReduce");
        watch.expectAfter(0, "AllReduce");
        ctx.expect(value[63] == static_cast<float>(n), "AllReduce result");
      },
      options);
}

TEST_P(ScratchExecutor, CollectivesOfOneGroupShareTheScratch) {
  const int n = GetParam();
  testing::ScopedEnv algo("PRISM_ALGO", "pat,tree");
  runRanks(n, Mode::Threads, [&](RankContext& ctx) {
    const int r = ctx.rank, root = n - 1;
    const size_t count = 2003;
    std::vector<float> send(count * n), summed(count), mine(count), gathered(count * n);
    for (int b = 0; b < n; ++b) {
      for (size_t i = 0; i < count; ++i) send[b * count + i] = contribution(r, b, i);
    }
    for (size_t i = 0; i < count; ++i) mine[i] = contribution(r, 0, i);
    ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
    ctx.requireOk(ncclReduceScatter(send.data(), summed.data(), count, ncclFloat32, ncclSum,
                                    ctx.comm, nullptr),
                  "ncclReduceScatter");
    ctx.requireOk(ncclGather(mine.data(), r == root ? gathered.data() : nullptr, count, ncclFloat32,
                             root, ctx.comm, nullptr),
                  "ncclGather");
    ctx.requireOk(ncclReduceScatter(send.data(), send.data() + r * count, count, ncclFloat32,
                                    ncclMax, ctx.comm, nullptr),
                  "ncclReduceScatter in place");
    ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
    std::vector<float> wantSum(count), wantMax(count, 0.0f);
    for (size_t i = 0; i < count; ++i) {
      for (int q = 0; q < n; ++q) {
        wantSum[i] += contribution(q, r, i);
        wantMax[i] = std::max(wantMax[i], contribution(q, r, i));
      }
    }
    expectEqual(ctx, summed, wantSum, "grouped ReduceScatter");
    expectEqual(ctx, std::vector<float>(send.begin() + r * count, send.begin() + (r + 1) * count),
                wantMax, "grouped in-place ReduceScatter (max)");
    if (r == root) {
      std::vector<float> want(count * n);
      for (int q = 0; q < n; ++q) {
        for (size_t i = 0; i < count; ++i) want[q * count + i] = contribution(q, 0, i);
      }
      expectEqual(ctx, gathered, want, "grouped Gather");
    }
    // One buffer, sized for the larger of the two.
    const size_t blocks = std::max(patBlocks(n), treeBlocks(r, root, n));
    ctx.expect(ctx.comm->get().scratchBytes() == blocks * count * sizeof(float),
               "grouped scratch is " + std::to_string(ctx.comm->get().scratchBytes()) + " bytes");
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, ScratchExecutor, ::testing::Values(1, 2, 3, 5, 8, 11),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "n" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace prism::test
