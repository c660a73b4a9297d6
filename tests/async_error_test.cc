// Every error that ends a communicator shows in ncclCommGetAsyncError, which watchdogs
// (PyTorch's among them) poll instead of the failed call's result, and the peers of the
// rank that failed hear of it at once instead of at PRISM_TIMEOUT_S: a failed read, a peer
// process that died on this host. A stopped peer is alive, so it still takes the timeout,
// but the reason names it. (The lost TCP peer is covered in tcp_transport_test.cc,
// mismatches in mismatch_test.cc.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "nccl.h"
#include "tests/harness/forked_ranks.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

using Clock = std::chrono::steady_clock;

// The direct host path between processes reads peers' inputs by cross-memory attach. Rank
// 0's block for rank 1 lies on a page rank 0 made inaccessible, so rank 1's read fails;
// rank 0's own part succeeds. Rank 1 reports the failed read, rank 0 hears of it from rank
// 1 (it would otherwise wait at the closing barrier until the timeout), and both
// communicators report the failure afterwards.
TEST(AsyncError, FailedDirectReadEndsTheCommunicatorOnEveryRank) {
  testing::ScopedEnv direct("PRISM_DIRECT_MIN_BYTES", "1");
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "60");
  runRanks(2, Mode::Processes, [](RankContext& ctx) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t count = page / sizeof(float);  // one page per rank's block
    void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ctx.require(mem != MAP_FAILED, "mmap");
    auto* send = static_cast<float*>(mem);
    for (size_t i = 0; i < 2 * count; ++i) send[i] = 1.0f;
    if (ctx.rank == 0) ctx.require(mprotect(send + count, page, PROT_NONE) == 0, "mprotect");
    std::vector<float> recv(2 * count, 0.0f);
    const auto start = Clock::now();
    ncclResult_t result = ncclAlltoAll(send, recv.data(), count, ncclFloat32, ctx.comm, nullptr);
    const std::string why = ncclGetLastError(ctx.comm);
    ctx.barrier();  // rank 1 stays alive while rank 0 may still read from it
    munmap(mem, 2 * page);
    const ncclResult_t expected = ctx.rank == 1 ? ncclSystemError : ncclRemoteError;
    ctx.require(result == expected, "alltoall returned " + resultName(result) + " instead of " +
                                        resultName(expected) + ": " + why);
    ctx.require(why.find(ctx.rank == 1 ? "rank 0" : "rank 1") != std::string::npos,
                "the reason does not name the peer: " + why);
    ctx.require(Clock::now() - start < std::chrono::seconds(10),
                "the failure took too long to reach this rank");
    ncclResult_t async = ncclSuccess;
    ctx.requireOk(ncclCommGetAsyncError(ctx.comm, &async), "ncclCommGetAsyncError");
    ctx.require(async == expected,
                "ncclCommGetAsyncError reports " + resultName(async) + " after the failure");
    int32_t value = 1, sum = 0;
    result = ncclAllReduce(&value, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr);
    ctx.require(result == expected, "a call after the failure returned " + resultName(result));
  });
}

// The scheduled (FIFO) path's deadline, through the C API: a forced algorithm keeps the
// call off the direct path, and rank 1 never joins it. Rank 0 must fail after about
// PRISM_TIMEOUT_S, naming the rank it waits on, and not hang.
TEST(Timeout, ScheduledCallFailsAfterTheTimeoutNamingTheSilentRank) {
  testing::ScopedEnv algo("PRISM_ALGO", "ring");
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "2");
  runRanks(2, Mode::Threads, [](RankContext& ctx) {
    if (ctx.rank == 0) {
      std::vector<float> data(1024, 1.0f);
      const auto start = Clock::now();
      ncclResult_t result = ncclAllReduce(data.data(), data.data(), data.size(), ncclFloat32,
                                          ncclSum, ctx.comm, nullptr);
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      const std::string why = ncclGetLastError(ctx.comm);
      ctx.require(result == ncclSystemError, "returned " + resultName(result) + ": " + why);
      ctx.require(
          why.find("timed out") != std::string::npos && why.find("rank 1") != std::string::npos,
          "the reason does not name the timeout and rank 1: " + why);
      ctx.require(seconds >= 1.5 && seconds < 10,
                  "failed after " + std::to_string(seconds) + " s with PRISM_TIMEOUT_S=2");
    }
    ctx.barrier();  // rank 1 stays silent until rank 0 has given up
  });
}

/// Three processes on shared memory; rank 2 does one allreduce with the others, then
/// `fate` happens to it (it is killed, or stopped). Ranks 0 and 1 then run large
/// allreduces until one fails, timing that, and report.
std::vector<Report> survivorsOf(const std::function<void()>& fate, std::chrono::seconds limit) {
  constexpr int kRanks = 3;
  ncclUniqueId id;
  if (ncclGetUniqueId(&id) != ncclSuccess) throw std::runtime_error("ncclGetUniqueId");
  std::vector<std::function<void(Report&)>> bodies;
  for (int rank = 0; rank < kRanks; ++rank) {
    bodies.push_back([rank, &id, &fate](Report& r) {
      ncclComm_t comm = nullptr;
      ncclResult_t res = ncclCommInitRank(&comm, kRanks, id, rank);
      if (res != ncclSuccess) return noteError(r, res, nullptr);
      std::vector<float> buf(1 << 20, 1.0f);
      res = ncclAllReduce(buf.data(), buf.data(), 16, ncclFloat32, ncclSum, comm, nullptr);
      if (res != ncclSuccess) return noteError(r, res, comm);
      if (rank == kRanks - 1) fate();
      const auto start = Clock::now();
      for (int i = 0; i < 1000 && res == ncclSuccess; ++i) {
        res =
            ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr);
      }
      r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      noteError(r, res, comm);
      ncclCommAbort(comm);
    });
  }
  std::vector<bool> exited;
  auto reports = forkAll(bodies, limit, &exited, {false, false, true});
  for (int rank = 0; rank < kRanks - 1; ++rank) {
    EXPECT_TRUE(exited[rank]) << "rank " << rank << " hung";
  }
  reports.pop_back();
  return reports;
}

TEST(PeerDeath, ShmSurvivorsFailWithinOneSecondNamingTheDeadRank) {
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "60");
  const auto reports = survivorsOf([] { ::raise(SIGKILL); }, std::chrono::seconds(50));
  for (size_t rank = 0; rank < reports.size(); ++rank) {
    const Report& r = reports[rank];
    EXPECT_EQ(r.result, ncclRemoteError) << "rank " << rank << ": " << r.message;
    EXPECT_NE(std::string(r.message).find("rank 2"), std::string::npos)
        << "rank " << rank << "'s error does not name the dead rank: " << r.message;
    EXPECT_LT(r.seconds, 1.0) << "rank " << rank << " took " << r.seconds << " s: " << r.message;
    EXPECT_EQ(r.async, ncclRemoteError) << "rank " << rank << ": ncclCommGetAsyncError";
  }
}

TEST(PeerDeath, StoppedRankTakesTheTimeoutAndIsNamed) {
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "2");
  const auto reports = survivorsOf([] { ::raise(SIGSTOP); }, std::chrono::seconds(30));
  for (size_t rank = 0; rank < reports.size(); ++rank) {
    const Report& r = reports[rank];
    EXPECT_EQ(r.result, ncclSystemError) << "rank " << rank << ": " << r.message;
    EXPECT_NE(std::string(r.message).find("rank 2 (pid"), std::string::npos)
        << "rank " << rank << "'s error does not name the stopped rank: " << r.message;
    EXPECT_NE(std::string(r.message).find("is stopped"), std::string::npos)
        << "rank " << rank << ": " << r.message;
    EXPECT_GE(r.seconds, 1.5) << "rank " << rank << " gave up before the timeout";
  }
}

}  // namespace
}  // namespace prism::test
