// The direct host path (src/core/direct_host.cc): large host collectives that read peers'
// buffers in place, by plain loads between threads and by cross-memory attach between
// processes. PRISM_DIRECT_MIN_BYTES=1 sends every non-empty call of the implemented
// collectives down that path, so awkward counts and every type and operator reach it; a
// last test turns it off and checks large calls still take the FIFO plans correctly.
#include <gtest/gtest.h>
#include <nccl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>

#include "harness/collective_check.h"
#include "harness/matrix.h"
#include "harness/rank_runner.h"
#include "harness/reference.h"
#include "harness/scoped_env.h"

namespace prism::test {
namespace {

constexpr std::array<Coll, 6> kColls = {Coll::AllReduce,     Coll::AllGather, Coll::Broadcast,
                                        Coll::ReduceScatter, Coll::AlltoAll,  Coll::Reduce};

MatrixScope directScope() {
  return {
      {ncclFloat32, ncclBfloat16, ncclFloat16, ncclInt32, ncclUint8, ncclFloat8e5m2, ncclFloat64},
      {RefOp::Sum, RefOp::Prod, RefOp::Min, RefOp::Avg, RefOp::PreMulSum},
      {0, 1, 7, 4099, 65536 + 3}};
}

void runAll(int nranks, Mode mode, const MatrixScope& scope) {
  runCollectiveMatrix(nranks, mode, kColls, scope);
}

std::string ranksName(const ::testing::TestParamInfo<int>& info) {
  return "n" + std::to_string(info.param);
}

class DirectThreads : public ::testing::TestWithParam<int> {};
class DirectProcesses : public ::testing::TestWithParam<int> {};

TEST_P(DirectThreads, EveryCallDirect) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runAll(GetParam(), Mode::Threads, directScope());
}

TEST_P(DirectProcesses, EveryCallDirect) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runAll(GetParam(), Mode::Processes, directScope());
}

INSTANTIATE_TEST_SUITE_P(Ranks, DirectThreads, ::testing::Values(2, 3, 5), ranksName);
INSTANTIATE_TEST_SUITE_P(Ranks, DirectProcesses, ::testing::Values(2, 3, 5), ranksName);

// Outputs of 4 MiB and more are written with streaming stores, and each rank reduces its
// slice in many chunks (4 KiB when every input is addressable, 256 KiB when some are read
// by cross-memory attach); odd counts leave unaligned tails at every slice and block edge.
MatrixScope largeScope() {
  return {{ncclFloat32, ncclBfloat16},
          {RefOp::Sum, RefOp::Avg, RefOp::PreMulSum},
          {1048576 + 5, 2097152 + 3}};
}

TEST(DirectLarge, ThreadsStreamIntoEveryOutput) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runAll(2, Mode::Threads, largeScope());
  runAll(3, Mode::Threads, largeScope());
}

TEST(DirectLarge, Processes) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runAll(2, Mode::Processes, largeScope());
}

// The default (-1) sends thread ranks' calls from 4 KiB down the path: counts straddle
// the threshold, and 8 ranks on 2 cores wait for each other through yields and naps.
TEST(DirectAutomatic, ThreadsAroundThreshold) {
  testing::ScopedEnv automatic("PRISM_DIRECT_MIN_BYTES", "-1");
  MatrixScope scope{{ncclFloat32, ncclInt32}, {RefOp::Sum, RefOp::Max}, {1, 1023, 1024, 1025}};
  runAll(2, Mode::Threads, scope);
  runAll(8, Mode::Threads, scope);
  runAll(3, Mode::Processes, scope);
}

// Buffers from ncclMemAlloc are memfd mappings that ranks in other processes map and
// access like threads' buffers; ranks whose buffers come from malloc are reached by
// cross-memory attach in the same call. `mappable(rank)` picks each rank's allocator.
void runMapped(int nranks, const std::function<bool(int)>& mappable) {
  constexpr size_t kCount = 1048576 + 5;  // 4 MiB of floats: streaming stores, many chunks
  runRanks(nranks, Mode::Processes, [&](RankContext& ctx) {
    const int r = ctx.rank;
    const size_t n = kCount * static_cast<size_t>(nranks);
    auto alloc = [&](size_t elements) {
      void* p = nullptr;
      if (mappable(r)) {
        ctx.requireOk(ncclMemAlloc(&p, elements * sizeof(float)), "ncclMemAlloc");
      } else {
        p = std::malloc(elements * sizeof(float));
      }
      return static_cast<float*>(p);
    };
    float* send = alloc(n);
    float* recv = alloc(n);
    // Small integers: every sum is exact in float.
    auto value = [](int rank, size_t i) { return static_cast<float>((i * 7 + rank * 13) % 1024); };
    auto fill = [&](float* p) {
      for (size_t i = 0; i < n; ++i) p[i] = value(r, i);
    };
    auto check = [&](const char* what, const float* p, size_t count, auto expected) {
      size_t bad = 0;
      for (size_t i = 0; i < count; ++i) bad += p[i] != expected(i);
      ctx.expect(bad == 0, std::string(what) + ": " + std::to_string(bad) + " wrong elements");
    };
    auto sum = [&](size_t i) {
      float s = 0;
      for (int q = 0; q < nranks; ++q) s += value(q, i);
      return s;
    };
    for (bool inPlace : {false, true}) {
      fill(send);
      float* out = inPlace ? send : recv;
      ctx.requireOk(ncclAllReduce(send, out, kCount, ncclFloat32, ncclSum, ctx.comm, nullptr),
                    "ncclAllReduce");
      check(inPlace ? "allreduce in place" : "allreduce", out, kCount, sum);
    }
    fill(send);
    ctx.requireOk(ncclReduceScatter(send, recv, kCount, ncclFloat32, ncclSum, ctx.comm, nullptr),
                  "ncclReduceScatter");
    check("reducescatter", recv, kCount, [&](size_t i) { return sum(r * kCount + i); });
    ctx.requireOk(ncclAllGather(send, recv, kCount, ncclFloat32, ctx.comm, nullptr),
                  "ncclAllGather");
    check("allgather", recv, n, [&](size_t i) { return value(i / kCount, i % kCount); });
    ctx.requireOk(ncclAlltoAll(send, recv, kCount, ncclFloat32, ctx.comm, nullptr), "ncclAlltoAll");
    check("alltoall", recv, n,
          [&](size_t i) { return value(i / kCount, r * kCount + i % kCount); });
    const int root = nranks - 1;
    ctx.requireOk(ncclBroadcast(send, recv, kCount, ncclFloat32, root, ctx.comm, nullptr),
                  "ncclBroadcast");
    check("broadcast", recv, kCount, [&](size_t i) { return value(root, i); });
    for (float* p : {send, recv}) {
      if (mappable(r)) {
        ctx.requireOk(ncclMemFree(p), "ncclMemFree");
      } else {
        std::free(p);
      }
    }
  });
}

TEST(DirectMapped, ProcessesWithNcclMemAlloc) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runMapped(2, [](int) { return true; });
  runMapped(3, [](int) { return true; });
}

TEST(DirectMapped, SomeRanksMalloc) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runMapped(2, [](int rank) { return rank == 0; });
  runMapped(3, [](int rank) { return rank != 1; });
}

// The default takes the path between processes only when every rank's buffers are
// mappable; otherwise all ranks agree to run the FIFO plans after the exchange.
TEST(DirectMapped, AutomaticBetweenProcesses) {
  testing::ScopedEnv automatic("PRISM_DIRECT_MIN_BYTES", "-1");
  runMapped(2, [](int) { return true; });
  runMapped(3, [](int rank) { return rank != 2; });
}

// With the path off, calls of several MiB take the FIFO plans (ring, recursive doubling).
TEST(DirectOff, LargeCallsTakeThePlans) {
  testing::ScopedEnv off("PRISM_DIRECT_MIN_BYTES", "0");
  runAll(3, Mode::Processes, {{ncclFloat32, ncclBfloat16}, {RefOp::Sum}, {1048576 + 3}});
}

}  // namespace
}  // namespace prism::test
