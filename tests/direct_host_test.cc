// The direct host path (src/core/direct_host.cc): large host collectives that read peers'
// buffers in place, by plain loads between threads and by cross-memory attach between
// processes. PRISM_DIRECT_MIN_BYTES=1 sends every non-empty call of the implemented
// collectives down that path, so awkward counts and every type and operator reach it; a
// last test turns it off and checks large calls still take the FIFO plans correctly.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include "nccl.h"
#include "tests/harness/collective_check.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/reference.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

constexpr std::array<Coll, 6> kColls = {Coll::AllReduce,     Coll::AllGather, Coll::Broadcast,
                                        Coll::ReduceScatter, Coll::AllToAll,  Coll::Reduce};

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

// Where a rank's buffers come from: malloc (reached by cross-memory attach), ncclMemAlloc
// (memfd mappings that ranks in other processes map and access like threads' buffers), or
// the rank's own memfd mapped shared and registered with ncclCommRegister, like a
// framework's shared-memory tensor (mapped by the peers too).
enum class Source { Malloc, NcclMemAlloc, RegisteredShared };

/// The memfd name of `rank`'s registered buffers; a peer that maps them shows it in its
/// own /proc/self/maps.
std::string sharedName(int rank) { return "prism-test-registered-r" + std::to_string(rank); }

/// Lines of /proc/self/maps that map `name`.
int mappingsOf(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  int found = 0;
  for (std::string line; std::getline(maps, line);) found += line.find(name) != std::string::npos;
  return found;
}

/// A buffer of `bytes` from `source`, released when it goes out of scope.
class TestBuffer {
 public:
  TestBuffer(RankContext& ctx, Source source, size_t bytes)
      : ctx_(ctx), source_(source), bytes_(bytes) {
    if (source == Source::Malloc) {
      p_ = std::malloc(bytes);
    } else if (source == Source::NcclMemAlloc) {
      ctx.requireOk(ncclMemAlloc(&p_, bytes), "ncclMemAlloc");
    } else {
      fd_ = memfd_create(sharedName(ctx.rank).c_str(), MFD_CLOEXEC);
      ctx.require(fd_ >= 0 && ftruncate(fd_, static_cast<off_t>(bytes)) == 0, "memfd");
      p_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
      ctx.require(p_ != MAP_FAILED, "mmap of the memfd");
      ctx.requireOk(ncclCommRegister(ctx.comm, p_, bytes, &handle_), "ncclCommRegister");
    }
  }
  ~TestBuffer() {
    if (source_ == Source::Malloc) {
      std::free(p_);
    } else if (source_ == Source::NcclMemAlloc) {
      ctx_.expect(ncclMemFree(p_) == ncclSuccess, "ncclMemFree failed");
    } else {
      ctx_.expect(ncclCommDeregister(ctx_.comm, handle_) == ncclSuccess,
                  "ncclCommDeregister failed");
      munmap(p_, bytes_);
      close(fd_);
    }
  }
  TestBuffer(const TestBuffer&) = delete;
  TestBuffer& operator=(const TestBuffer&) = delete;
  float* get() const { return static_cast<float*>(p_); }

 private:
  RankContext& ctx_;
  Source source_;
  size_t bytes_;
  void* p_ = nullptr;
  int fd_ = -1;
  void* handle_ = nullptr;
};

// Every collective on 4 MiB per rank (streaming stores, many chunks), each rank's buffers
// from `sourceOf(rank)`; ranks whose buffers are mappable are mapped, the others reached
// by cross-memory attach in the same call.
void runMapped(int nranks, const std::function<Source(int)>& sourceOf) {
  constexpr size_t kCount = 1048576 + 5;  // 4 MiB of floats: streaming stores, many chunks
  runRanks(nranks, Mode::Processes, [&](RankContext& ctx) {
    const int r = ctx.rank;
    const size_t n = kCount * static_cast<size_t>(nranks);
    TestBuffer sendBuffer(ctx, sourceOf(r), n * sizeof(float));
    TestBuffer recvBuffer(ctx, sourceOf(r), n * sizeof(float));
    float* send = sendBuffer.get();
    float* recv = recvBuffer.get();
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
    // Registered shared buffers were mapped here, not copied by the kernel: each peer's
    // memfd appears in this process's maps beside this rank's own.
    for (int q = 0; q < nranks; ++q) {
      if (q == r || sourceOf(q) != Source::RegisteredShared) continue;
      ctx.expect(mappingsOf(sharedName(q)) > 0,
                 "rank " + std::to_string(q) + "'s registered memfd is not mapped here");
    }
  });
}

TEST(DirectMapped, ProcessesWithNcclMemAlloc) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runMapped(2, [](int) { return Source::NcclMemAlloc; });
  runMapped(3, [](int) { return Source::NcclMemAlloc; });
}

TEST(DirectMapped, SomeRanksMalloc) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runMapped(2, [](int rank) { return rank == 0 ? Source::NcclMemAlloc : Source::Malloc; });
  runMapped(3, [](int rank) { return rank != 1 ? Source::NcclMemAlloc : Source::Malloc; });
}

// Registered shared memory is mapped like ncclMemAlloc memory, also beside ranks whose
// buffers are ncclMemAlloc's or malloc's.
TEST(DirectMapped, RegisteredSharedMemory) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  runMapped(2, [](int) { return Source::RegisteredShared; });
  runMapped(3, [](int rank) {
    return rank == 0 ? Source::RegisteredShared : rank == 1 ? Source::NcclMemAlloc : Source::Malloc;
  });
}

// The default takes the path between processes only when every rank's buffers are
// mappable; otherwise all ranks agree to run the FIFO plans after the exchange.
TEST(DirectMapped, AutomaticBetweenProcesses) {
  testing::ScopedEnv automatic("PRISM_DIRECT_MIN_BYTES", "-1");
  runMapped(2, [](int) { return Source::NcclMemAlloc; });
  runMapped(2, [](int) { return Source::RegisteredShared; });
  runMapped(3, [](int rank) { return rank != 2 ? Source::NcclMemAlloc : Source::Malloc; });
}

// With the path off, calls of several MiB take the FIFO plans (ring, recursive doubling).
TEST(DirectOff, LargeCallsTakeThePlans) {
  testing::ScopedEnv off("PRISM_DIRECT_MIN_BYTES", "0");
  runAll(3, Mode::Processes, {{ncclFloat32, ncclBfloat16}, {RefOp::Sum}, {1048576 + 3}});
}

}  // namespace
}  // namespace prism::test
