// Communicator life cycle and queries through the public API: split, shrink, the init
// variants (InitAll, InitRankConfig blocking and not, InitRankScalable, init inside a group),
// queries, buffer and window registration, ncclMemAlloc, finalize, abort, version and the
// error strings.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nccl.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

using namespace std::chrono_literals;

// A comm pointer value no library returns, to see whether an out-parameter was written.
ncclComm_t sentinelComm() { return reinterpret_cast<ncclComm_t>(uintptr_t{0x5e5e5e5e}); }

void expectShape(RankContext& ctx, ncclComm_t comm, int rank, int count, const std::string& what) {
  int r = -1, c = -1;
  ctx.requireOk(ncclCommUserRank(comm, &r), what + ": ncclCommUserRank");
  ctx.requireOk(ncclCommCount(comm, &c), what + ": ncclCommCount");
  ctx.expect(r == rank && c == count, what + ": rank/count " + std::to_string(r) + "/" +
                                          std::to_string(c) + ", expected " + std::to_string(rank) +
                                          "/" + std::to_string(count));
}

// AllGathers every member's `tag` over `comm` and checks the list equals `want`.
void expectMembers(RankContext& ctx, ncclComm_t comm, int tag, const std::vector<int>& want,
                   const std::string& what) {
  std::vector<int32_t> got(want.size(), -1);
  int32_t mine = tag;
  ctx.requireOk(ncclAllGather(&mine, got.data(), 1, ncclInt32, comm, nullptr),
                what + ": ncclAllGather");
  std::string g, w;
  for (size_t i = 0; i < want.size(); ++i) {
    g += std::to_string(got[i]) + " ";
    w += std::to_string(want[i]) + " ";
  }
  ctx.expect(g == w, what + ": members in new-rank order are [" + g + "], expected [" + w + "]");
}

void splitByParity(RankContext& ctx) {
  const int n = ctx.nranks;
  // The last rank opts out; the others split by parity with keys reversing the order.
  const bool out = ctx.rank == n - 1;
  const int color = out ? NCCL_SPLIT_NOCOLOR : ctx.rank % 2;
  ncclComm_t sub = sentinelComm();
  ctx.requireOk(ncclCommSplit(ctx.comm, color, n - ctx.rank, &sub, nullptr), "ncclCommSplit");
  if (out) {
    ctx.require(sub == nullptr, "NCCL_SPLIT_NOCOLOR must give a null communicator");
  } else {
    ctx.require(sub != nullptr && sub != sentinelComm(), "ncclCommSplit gave no communicator");
    std::vector<int> members;  // old ranks of my color, highest first (keys reverse)
    for (int q = n - 2; q >= 0; --q) {
      if (q % 2 == color) members.push_back(q);
    }
    int newRank = 0;
    while (members[newRank] != ctx.rank) ++newRank;
    expectShape(ctx, sub, newRank, static_cast<int>(members.size()), "split child");
    expectMembers(ctx, sub, ctx.rank, members, "split child");
    // A reduction sized per rank count, on the child, then the parent still works.
    std::vector<int64_t> v(1003, ctx.rank), sum(1003, -1);
    ctx.requireOk(ncclAllReduce(v.data(), sum.data(), v.size(), ncclInt64, ncclSum, sub, nullptr),
                  "ncclAllReduce on the split child");
    int64_t want = 0;
    for (int q : members) want += q;
    ctx.expect(sum[1002] == want, "child allreduce gave " + std::to_string(sum[1002]) +
                                      ", expected " + std::to_string(want));
  }
  std::vector<int> everyone(n);
  for (int q = 0; q < n; ++q) everyone[q] = q;
  expectMembers(ctx, ctx.comm, ctx.rank, everyone, "parent after split");
  if (!out) ctx.requireOk(ncclCommDestroy(sub), "ncclCommDestroy(split child)");

  // Equal keys keep the parent's order; one color for all gives a full copy.
  ncclComm_t copy = nullptr;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 1;
  ctx.requireOk(ncclCommSplit(ctx.comm, 7, 0, &copy, &config), "ncclCommSplit(one color)");
  ctx.require(copy != nullptr, "one-color split gave a null communicator");
  expectShape(ctx, copy, ctx.rank, n, "one-color split");
  expectMembers(ctx, copy, ctx.rank, everyone, "one-color split");
  ctx.requireOk(ncclCommDestroy(copy), "ncclCommDestroy(one-color split)");
}

TEST(Split, ParityColorsReversedKeysAndNoColor) { runRanks(6, Mode::Threads, splitByParity); }

TEST(Split, AcrossProcesses) { runRanks(4, Mode::Processes, splitByParity); }

// NCCL's pattern for one thread driving several ranks: the splits of all of them inside
// one group. They meet at ncclGroupEnd; run at the call, the first would wait for the
// others until the timeout. Ranks 0-2 take color 0 with reversed keys; rank 3 opts out.
TEST(Split, InsideAGroupFromOneThread) {
  constexpr int kRanks = 4;
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "20");
  std::vector<ncclComm_t> comms(kRanks);
  ASSERT_EQ(ncclCommInitAll(comms.data(), kRanks, nullptr), ncclSuccess)
      << ncclGetLastError(nullptr);
  std::vector<ncclComm_t> subs(kRanks, nullptr);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  for (int r = 0; r < kRanks; ++r) {
    const int color = r == kRanks - 1 ? NCCL_SPLIT_NOCOLOR : 0;
    ASSERT_EQ(ncclCommSplit(comms[r], color, kRanks - r, &subs[r], nullptr), ncclSuccess)
        << ncclGetLastError(comms[r]);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(subs[kRanks - 1], nullptr) << "NCCL_SPLIT_NOCOLOR gave a communicator";
  for (int r = 0; r < kRanks - 1; ++r) {
    ASSERT_NE(subs[r], nullptr);
    int rank = -1, count = 0;
    ASSERT_EQ(ncclCommUserRank(subs[r], &rank), ncclSuccess);
    ASSERT_EQ(ncclCommCount(subs[r], &count), ncclSuccess);
    EXPECT_EQ(count, kRanks - 1);
    EXPECT_EQ(rank, kRanks - 2 - r) << "keys are reversed, so rank " << r << " is last but " << r;
  }
  // The new communicators work: an allreduce of each parent rank's number + 1.
  std::vector<int32_t> values(kRanks - 1), sums(kRanks - 1, 0);
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  for (int r = 0; r < kRanks - 1; ++r) {
    values[r] = r + 1;
    ASSERT_EQ(ncclAllReduce(&values[r], &sums[r], 1, ncclInt32, ncclSum, subs[r], nullptr),
              ncclSuccess);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
  for (int r = 0; r < kRanks - 1; ++r) EXPECT_EQ(sums[r], 6) << "rank " << r;
  for (ncclComm_t c : subs) ncclCommDestroy(c);
  for (ncclComm_t c : comms) ncclCommDestroy(c);
}

// A rank's fork()ed child inherits the communicator's memory, but must not act as the
// rank: its calls fail, its ncclCommDestroy leaves the parent's connections alone, and the
// parent's communicator still works afterwards.
TEST(Fork, ChildCannotUseTheParentsCommunicator) {
  runRanks(2, Mode::Processes, [](RankContext& ctx) {
    if (ctx.rank == 0) {
      const pid_t pid = fork();
      if (pid == 0) {
        int32_t value = 100, sum = 0;
        ncclResult_t r = ncclAllReduce(&value, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr);
        const std::string why = ncclGetLastError(ctx.comm);
        const bool refused = r == ncclInvalidUsage && why.find("fork") != std::string::npos;
        const bool destroyed = ncclCommDestroy(ctx.comm) == ncclSuccess;
        _exit(refused && destroyed ? 0 : 1);
      }
      ctx.require(pid > 0, "fork failed");
      int status = 0;
      ctx.require(waitpid(pid, &status, 0) == pid, "waitpid");
      ctx.require(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the child could use the parent's communicator, or its destroy failed");
    }
    for (int round = 0; round < 3; ++round) {
      int32_t value = ctx.rank + 1 + round, sum = 0;
      ctx.requireOk(ncclAllReduce(&value, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr),
                    "ncclAllReduce after the fork");
      ctx.require(sum == 3 + 2 * round, "allreduce after the fork gave " + std::to_string(sum));
    }
  });
}

// Only the survivors call ncclCommShrink; the excluded ranks are healthy and idle.
TEST(Shrink, ExcludingHealthyRanks) {
  runRanks(5, Mode::Threads, [](RankContext& ctx) {
    int excluded[] = {1, 3};
    if (ctx.rank == 1 || ctx.rank == 3) return;
    ncclComm_t small = sentinelComm();
    ctx.requireOk(ncclCommShrink(ctx.comm, excluded, 2, &small, nullptr, NCCL_SHRINK_DEFAULT),
                  "ncclCommShrink");
    ctx.require(small != nullptr && small != sentinelComm(), "ncclCommShrink gave no comm");
    const std::vector<int> survivors = {0, 2, 4};
    expectShape(ctx, small, ctx.rank / 2, 3, "shrunk comm");
    expectMembers(ctx, small, ctx.rank, survivors, "shrunk comm");
    std::vector<float> v(50000, static_cast<float>(ctx.rank)), sum(50000, -1);
    ctx.requireOk(
        ncclAllReduce(v.data(), sum.data(), v.size(), ncclFloat32, ncclSum, small, nullptr),
        "ncclAllReduce on the shrunk comm");
    ctx.expect(sum[0] == 6.0f && sum[49999] == 6.0f,
               "shrunk allreduce gave " + std::to_string(sum[0]) + ", expected 6");
    ctx.requireOk(ncclCommDestroy(small), "ncclCommDestroy(shrunk)");
  });
}

TEST(Init, ThreadsEachCallInitRankConfig) {
  RunOptions options;
  options.initComm = false;
  runRanks(
      4, Mode::Threads,
      [](RankContext& ctx) {
        ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
        config.blocking = 1;
        config.commName = "comm_test";
        ctx.requireOk(ncclCommInitRankConfig(&ctx.comm, ctx.nranks, ctx.id, ctx.rank, &config),
                      "ncclCommInitRankConfig");
        expectShape(ctx, ctx.comm, ctx.rank, ctx.nranks, "InitRankConfig");
        expectMembers(ctx, ctx.comm, ctx.rank * 3, {0, 3, 6, 9}, "InitRankConfig");
      },
      options);
}

// blocking = 0: calls may return ncclInProgress until ncclCommGetAsyncError says done.
TEST(Init, NonBlockingConfig) {
  RunOptions options;
  options.initComm = false;
  runRanks(
      3, Mode::Threads,
      [](RankContext& ctx) {
        auto settle = [&](ncclResult_t r, const std::string& what) {
          const auto deadline = std::chrono::steady_clock::now() + 30s;
          while (r == ncclInProgress && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(1ms);
            ctx.requireOk(ncclCommGetAsyncError(ctx.comm, &r), what + ": ncclCommGetAsyncError");
          }
          ctx.requireOk(r, what);
        };
        ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
        config.blocking = 0;
        settle(ncclCommInitRankConfig(&ctx.comm, ctx.nranks, ctx.id, ctx.rank, &config),
               "ncclCommInitRankConfig(blocking=0)");
        ctx.require(ctx.comm != nullptr, "non-blocking init gave a null comm");
        int32_t v = ctx.rank + 1, sum = 0;
        settle(ncclAllReduce(&v, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr),
               "ncclAllReduce(non-blocking comm)");
        ctx.expect(sum == 6, "non-blocking allreduce gave " + std::to_string(sum));
      },
      options);
}

TEST(Init, InitRankScalableWithOneId) {
  RunOptions options;
  options.initComm = false;
  runRanks(
      3, Mode::Threads,
      [](RankContext& ctx) {
        ncclUniqueId ids[1] = {ctx.id};
        ctx.requireOk(ncclCommInitRankScalable(&ctx.comm, ctx.nranks, ctx.rank, 1, ids, nullptr),
                      "ncclCommInitRankScalable(nId=1)");
        expectShape(ctx, ctx.comm, ctx.rank, ctx.nranks, "InitRankScalable");
        expectMembers(ctx, ctx.comm, ctx.rank, {0, 1, 2}, "InitRankScalable");
      },
      options);
}

// One thread creates every rank of a communicator by calling ncclCommInitRank in a group.
TEST(Init, InitRankForAllRanksInsideOneGroup) {
  constexpr int kRanks = 3;
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  std::vector<ncclComm_t> comms(kRanks, nullptr);
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  for (int r = 0; r < kRanks; ++r) {
    ASSERT_EQ(ncclCommInitRank(&comms[r], kRanks, id, r), ncclSuccess);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
  std::vector<int32_t> in(kRanks), out(kRanks, -1);
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  for (int r = 0; r < kRanks; ++r) {
    in[r] = r + 1;
    ASSERT_NE(comms[r], nullptr);
    ASSERT_EQ(ncclAllReduce(&in[r], &out[r], 1, ncclInt32, ncclProd, comms[r], nullptr),
              ncclSuccess);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
  EXPECT_EQ(out, std::vector<int32_t>(kRanks, 6));
  for (ncclComm_t c : comms) EXPECT_EQ(ncclCommDestroy(c), ncclSuccess);
}

TEST(Queries, CountRankDeviceAsyncError) {
  runRanks(3, Mode::Threads, [](RankContext& ctx) {
    expectShape(ctx, ctx.comm, ctx.rank, 3, "queries");
    int device = -2;
    ctx.requireOk(ncclCommCuDevice(ctx.comm, &device), "ncclCommCuDevice");
    ctx.expect(device >= -1, "ncclCommCuDevice gave " + std::to_string(device));
    ncclResult_t async = ncclInternalError;
    ctx.requireOk(ncclCommGetAsyncError(ctx.comm, &async), "ncclCommGetAsyncError");
    ctx.expect(async == ncclSuccess, "async error of a healthy comm is " + resultName(async));
  });
}

TEST(Memory, RegisterWindowAndMemAlloc) {
  runRanks(3, Mode::Threads, [](RankContext& ctx) {
    constexpr size_t kCount = 1 << 16;
    constexpr size_t kBytes = kCount * sizeof(float);
    void* send = nullptr;
    void* recv = nullptr;
    ctx.requireOk(ncclMemAlloc(&send, kBytes), "ncclMemAlloc(send)");
    ctx.requireOk(ncclMemAlloc(&recv, kBytes), "ncclMemAlloc(recv)");
    ctx.require(send != nullptr && recv != nullptr, "ncclMemAlloc gave a null pointer");
    auto* s = static_cast<float*>(send);
    auto* r = static_cast<float*>(recv);
    for (size_t i = 0; i < kCount; ++i) s[i] = static_cast<float>(ctx.rank + (i % 3));

    void* sendHandle = nullptr;
    void* recvHandle = nullptr;
    ctx.requireOk(ncclCommRegister(ctx.comm, send, kBytes, &sendHandle), "ncclCommRegister");
    ctx.requireOk(ncclCommRegister(ctx.comm, recv, kBytes, &recvHandle), "ncclCommRegister");
    ctx.require(sendHandle != nullptr && recvHandle != nullptr, "null registration handle");
    ncclWindow_t win = nullptr;
    ctx.requireOk(ncclCommWindowRegister(ctx.comm, recv, kBytes, &win, NCCL_WIN_DEFAULT),
                  "ncclCommWindowRegister");
    ctx.require(win != nullptr, "ncclCommWindowRegister gave a null window");

    ctx.requireOk(ncclAllReduce(send, recv, kCount, ncclFloat32, ncclSum, ctx.comm, nullptr),
                  "ncclAllReduce on registered ncclMemAlloc buffers");
    for (size_t i : {size_t{0}, size_t{1}, kCount - 1}) {
      const float want = 3.0f * (i % 3) + 3.0f;  // ranks 0+1+2
      ctx.expect(r[i] == want, "element " + std::to_string(i) + " is " + std::to_string(r[i]) +
                                   ", expected " + std::to_string(want));
    }
    ctx.requireOk(ncclCommWindowDeregister(ctx.comm, win), "ncclCommWindowDeregister");
    ctx.requireOk(ncclCommDeregister(ctx.comm, sendHandle), "ncclCommDeregister");
    ctx.requireOk(ncclCommDeregister(ctx.comm, recvHandle), "ncclCommDeregister");
    // Still usable after deregistration.
    ctx.requireOk(ncclAllReduce(send, recv, kCount, ncclFloat32, ncclMax, ctx.comm, nullptr),
                  "ncclAllReduce after deregistration");
    ctx.expect(r[0] == 2.0f, "max after deregistration is " + std::to_string(r[0]));
    ctx.requireOk(ncclMemFree(send), "ncclMemFree");
    ctx.requireOk(ncclMemFree(recv), "ncclMemFree");
  });
}

TEST(Lifecycle, FinalizeThenDestroy) {
  runRanks(3, Mode::Threads, [](RankContext& ctx) {
    int32_t v = 1, sum = 0;
    ctx.requireOk(ncclAllReduce(&v, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr), "allreduce");
    ctx.requireOk(ncclCommFinalize(ctx.comm), "ncclCommFinalize");
    ncclResult_t async = ncclInternalError;
    ctx.requireOk(ncclCommGetAsyncError(ctx.comm, &async), "ncclCommGetAsyncError");
    ctx.expect(async == ncclSuccess, "async error after finalize: " + resultName(async));
    ncclComm_t comm = ctx.comm;
    ctx.comm = nullptr;
    ctx.requireOk(ncclCommDestroy(comm), "ncclCommDestroy after finalize");
  });
}

TEST(Lifecycle, AbortOnEveryRank) {
  runRanks(3, Mode::Processes, [](RankContext& ctx) {
    int32_t v = 1, sum = 0;
    ctx.requireOk(ncclAllReduce(&v, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr), "allreduce");
    ncclComm_t comm = ctx.comm;
    ctx.comm = nullptr;
    ctx.requireOk(ncclCommAbort(comm), "ncclCommAbort");
  });
}

// A rank blocked in a collective that its peer never joins is released by ncclCommAbort
// from another thread, with an error, instead of hanging.
TEST(Lifecycle, AbortFromAnotherThreadUnblocksAWaiter) {
  runRanks(2, Mode::Threads, [](RankContext& ctx) {
    if (ctx.rank == 1) {
      ctx.barrier();  // rank 0 is done with the comm
      return;
    }
    // The waiter runs on a detached thread so that a library that never releases it fails
    // this test instead of hanging it.
    auto v = std::make_shared<std::vector<float>>(2000, 1.0f);
    ncclComm_t comm = ctx.comm;
    std::packaged_task<ncclResult_t()> task([v, comm] {
      return ncclAllReduce(v->data(), v->data() + 1000, 1000, ncclFloat32, ncclSum, comm, nullptr);
    });
    std::future<ncclResult_t> waiter = task.get_future();
    std::thread(std::move(task)).detach();
    ctx.require(waiter.wait_for(300ms) == std::future_status::timeout,
                "an allreduce without its peer returned at once");
    ctx.comm = nullptr;
    ctx.requireOk(ncclCommAbort(comm), "ncclCommAbort from another thread");
    if (waiter.wait_for(20s) != std::future_status::ready) {
      ctx.fail("ncclCommAbort did not release the waiting allreduce within 20 s");
    }
    const ncclResult_t r = waiter.get();
    ctx.expect(r != ncclSuccess, "the aborted allreduce returned ncclSuccess");
    ctx.barrier();
  });
}

TEST(Api, VersionErrorStringsAndNullDestroy) {
  int version = 0;
  ASSERT_EQ(ncclGetVersion(&version), ncclSuccess);
  EXPECT_GE(version, 22800);
  EXPECT_EQ(version, NCCL_VERSION_CODE);
  EXPECT_EQ(ncclCommDestroy(nullptr), ncclSuccess);
  std::set<std::string> seen;
  for (int code = 0; code < ncclNumResults; ++code) {
    const char* s = ncclGetErrorString(static_cast<ncclResult_t>(code));
    ASSERT_NE(s, nullptr) << code;
    EXPECT_GT(std::strlen(s), 0u) << code;
    EXPECT_TRUE(seen.insert(s).second) << "duplicate error string for " << code << ": " << s;
  }
  for (int code : {8, 100, -1}) {
    const char* s = ncclGetErrorString(static_cast<ncclResult_t>(code));
    ASSERT_NE(s, nullptr) << code;
  }
  const char* last = ncclGetLastError(nullptr);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(std::strchr(last, '\n'), nullptr) << "last error is not one line: " << last;
}

}  // namespace
}  // namespace prism::test
