// Every entry point, given bad arguments, returns ncclInvalidArgument or ncclInvalidUsage
// at once (no crash, no hang) and leaves a one-line reason in ncclGetLastError.
//
// Each call runs in a forked child with a time limit: a call that crashes or hangs fails
// its own check and the test goes on to the next one. Most checks use a 1-rank
// communicator, so a bad call that the library wrongly accepts still completes (and is
// reported) rather than waits for a peer.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "nccl.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"

namespace prism::test {
namespace {

using namespace std::chrono_literals;

// How an isolated call ended.
struct Outcome {
  enum class Ended { Returned, Hung, Crashed } ended = Ended::Returned;
  int signal = 0;
  ncclResult_t result = ncclSuccess;
  std::string lastError;      // ncclGetLastError(NULL), read right after the call
  std::string lastErrorComm;  // ncclGetLastError(comm)

  std::string describe(std::chrono::milliseconds limit) const {
    if (ended == Ended::Hung)
      return "did not return within " + std::to_string(limit.count()) + " ms";
    if (ended == Ended::Crashed) return "crashed (signal " + std::to_string(signal) + ")";
    return "returned " + resultName(result);
  }
};

// What the child process hands back through shared memory.
struct SharedOutcome {
  int result;
  char lastError[1024];
  char lastErrorComm[1024];
};

void copyText(char* dst, const char* src, size_t size) {
  std::snprintf(dst, size, "%s", src ? src : "<null>");
}

// Runs `call` in a forked child so that a crash or a hang is reported for this one call
// instead of ending the whole test program. The child inherits the communicator.
Outcome callIsolated(const std::function<ncclResult_t()>& call, ncclComm_t comm,
                     std::chrono::milliseconds limit) {
  void* mem = mmap(nullptr, sizeof(SharedOutcome), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("mmap failed");
  auto* shared = static_cast<SharedOutcome*>(mem);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    shared->result = call();
    copyText(shared->lastError, ncclGetLastError(nullptr), sizeof(shared->lastError));
    copyText(shared->lastErrorComm, comm ? ncclGetLastError(comm) : shared->lastError,
             sizeof(shared->lastErrorComm));
    _exit(0);
  }
  Outcome out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      out.ended = Outcome::Ended::Hung;
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  if (out.ended != Outcome::Ended::Hung) {
    if (WIFSIGNALED(status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      out.ended = Outcome::Ended::Crashed;
      out.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    } else {
      out.result = static_cast<ncclResult_t>(shared->result);
      out.lastError = shared->lastError;
      out.lastErrorComm = shared->lastErrorComm;
    }
  }
  munmap(mem, sizeof(SharedOutcome));
  return out;
}

bool isRejection(ncclResult_t r) { return r == ncclInvalidArgument || r == ncclInvalidUsage; }

void expectRejected(const std::string& what, const std::function<ncclResult_t()>& call,
                    ncclComm_t comm = nullptr, std::chrono::milliseconds limit = 5000ms) {
  const Outcome out = callIsolated(call, comm, limit);
  if (out.ended != Outcome::Ended::Returned) {
    ADD_FAILURE() << what << ": " << out.describe(limit);
    return;
  }
  EXPECT_TRUE(isRejection(out.result)) << what << ": returned " << resultName(out.result)
                                       << ", expected ncclInvalidArgument or ncclInvalidUsage";
  if (!isRejection(out.result)) return;
  EXPECT_FALSE(out.lastError.empty()) << what << ": ncclGetLastError(NULL) is empty";
  EXPECT_EQ(out.lastError.find('\n'), std::string::npos)
      << what << ": ncclGetLastError is not one line: " << out.lastError;
  EXPECT_FALSE(out.lastErrorComm.empty()) << what << ": ncclGetLastError(comm) is empty";
}

void expectResult(const std::string& what, ncclResult_t want,
                  const std::function<ncclResult_t()>& call,
                  std::chrono::milliseconds limit = 5000ms) {
  const Outcome out = callIsolated(call, nullptr, limit);
  if (out.ended != Outcome::Ended::Returned) {
    ADD_FAILURE() << what << ": " << out.describe(limit);
    return;
  }
  EXPECT_EQ(out.result, want) << what << ": returned " << resultName(out.result) << ", expected "
                              << resultName(want) << " (" << out.lastError << ")";
}

// A fixture holding a 1-rank communicator made by ncclCommInitAll.
class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(ncclCommInitAll(&comm_, 1, nullptr), ncclSuccess) << ncclGetLastError(nullptr);
    ASSERT_NE(comm_, nullptr);
  }
  void TearDown() override {
    if (comm_ != nullptr) {
      EXPECT_EQ(ncclCommDestroy(comm_), ncclSuccess);
    }
  }

  ncclComm_t comm_ = nullptr;
  float a_[64] = {};
  float b_[64] = {};
};

TEST_F(BadInput, NullComm) {
  float* a = a_;
  float* b = b_;
  const ncclComm_t none = nullptr;
  expectRejected("ncclAllReduce(comm=NULL)",
                 [=] { return ncclAllReduce(a, b, 4, ncclFloat32, ncclSum, none, nullptr); });
  expectRejected("ncclBroadcast(comm=NULL)",
                 [=] { return ncclBroadcast(a, b, 4, ncclFloat32, 0, none, nullptr); });
  expectRejected("ncclBcast(comm=NULL)",
                 [=] { return ncclBcast(a, 4, ncclFloat32, 0, none, nullptr); });
  expectRejected("ncclReduce(comm=NULL)",
                 [=] { return ncclReduce(a, b, 4, ncclFloat32, ncclSum, 0, none, nullptr); });
  expectRejected("ncclAllGather(comm=NULL)",
                 [=] { return ncclAllGather(a, b, 4, ncclFloat32, none, nullptr); });
  expectRejected("ncclReduceScatter(comm=NULL)",
                 [=] { return ncclReduceScatter(a, b, 4, ncclFloat32, ncclSum, none, nullptr); });
  expectRejected("ncclAlltoAll(comm=NULL)",
                 [=] { return ncclAlltoAll(a, b, 4, ncclFloat32, none, nullptr); });
  expectRejected("ncclGather(comm=NULL)",
                 [=] { return ncclGather(a, b, 4, ncclFloat32, 0, none, nullptr); });
  expectRejected("ncclScatter(comm=NULL)",
                 [=] { return ncclScatter(a, b, 4, ncclFloat32, 0, none, nullptr); });
  expectRejected("ncclSend(comm=NULL)",
                 [=] { return ncclSend(a, 4, ncclFloat32, 0, none, nullptr); });
  expectRejected("ncclRecv(comm=NULL)",
                 [=] { return ncclRecv(b, 4, ncclFloat32, 0, none, nullptr); });
  expectRejected("ncclCommCount(NULL)", [=] {
    int value = 0;
    return ncclCommCount(none, &value);
  });
  expectRejected("ncclCommUserRank(NULL)", [=] {
    int value = 0;
    return ncclCommUserRank(none, &value);
  });
  expectRejected("ncclCommCuDevice(NULL)", [=] {
    int value = 0;
    return ncclCommCuDevice(none, &value);
  });
  expectRejected("ncclCommGetAsyncError(NULL)", [=] {
    ncclResult_t async;
    return ncclCommGetAsyncError(none, &async);
  });
  expectRejected("ncclCommFinalize(NULL)", [=] { return ncclCommFinalize(none); });
  expectRejected("ncclCommSplit(NULL)", [=] {
    ncclComm_t out = nullptr;
    return ncclCommSplit(none, 0, 0, &out, nullptr);
  });
  expectRejected("ncclCommShrink(NULL)", [=] {
    ncclComm_t out = nullptr;
    return ncclCommShrink(none, nullptr, 0, &out, nullptr, NCCL_SHRINK_DEFAULT);
  });
  expectRejected("ncclCommRegister(NULL)", [=] {
    void* handle = nullptr;
    return ncclCommRegister(none, a, 64, &handle);
  });
  expectRejected("ncclCommWindowRegister(NULL)", [=] {
    ncclWindow_t win = nullptr;
    return ncclCommWindowRegister(none, a, 64, &win, NCCL_WIN_DEFAULT);
  });
  expectRejected("ncclRedOpCreatePreMulSum(comm=NULL)", [=] {
    ncclRedOp_t op;
    float two = 2;
    return ncclRedOpCreatePreMulSum(&op, &two, ncclFloat32, ncclScalarHostImmediate, none);
  });
  expectRejected("ncclRedOpDestroy(comm=NULL)",
                 [=] { return ncclRedOpDestroy(static_cast<ncclRedOp_t>(ncclNumOps), none); });
}

TEST_F(BadInput, NullBuffersWithCount) {
  float* a = a_;
  ncclComm_t c = comm_;
  expectRejected(
      "ncclAllReduce(sendbuff=NULL)",
      [=] { return ncclAllReduce(nullptr, a, 4, ncclFloat32, ncclSum, c, nullptr); }, c);
  expectRejected(
      "ncclAllReduce(recvbuff=NULL)",
      [=] { return ncclAllReduce(a, nullptr, 4, ncclFloat32, ncclSum, c, nullptr); }, c);
  expectRejected(
      "ncclBroadcast(root sendbuff=NULL)",
      [=] { return ncclBroadcast(nullptr, a, 4, ncclFloat32, 0, c, nullptr); }, c);
  expectRejected(
      "ncclBroadcast(recvbuff=NULL)",
      [=] { return ncclBroadcast(a, nullptr, 4, ncclFloat32, 0, c, nullptr); }, c);
  expectRejected(
      "ncclBcast(buff=NULL)", [=] { return ncclBcast(nullptr, 4, ncclFloat32, 0, c, nullptr); }, c);
  expectRejected(
      "ncclReduce(root recvbuff=NULL)",
      [=] { return ncclReduce(a, nullptr, 4, ncclFloat32, ncclSum, 0, c, nullptr); }, c);
  expectRejected(
      "ncclReduce(sendbuff=NULL)",
      [=] { return ncclReduce(nullptr, a, 4, ncclFloat32, ncclSum, 0, c, nullptr); }, c);
  expectRejected(
      "ncclAllGather(recvbuff=NULL)",
      [=] { return ncclAllGather(a, nullptr, 4, ncclFloat32, c, nullptr); }, c);
  expectRejected(
      "ncclAllGather(sendbuff=NULL)",
      [=] { return ncclAllGather(nullptr, a, 4, ncclFloat32, c, nullptr); }, c);
  expectRejected(
      "ncclReduceScatter(sendbuff=NULL)",
      [=] { return ncclReduceScatter(nullptr, a, 4, ncclFloat32, ncclSum, c, nullptr); }, c);
  expectRejected(
      "ncclAlltoAll(recvbuff=NULL)",
      [=] { return ncclAlltoAll(a, nullptr, 4, ncclFloat32, c, nullptr); }, c);
  expectRejected(
      "ncclGather(root recvbuff=NULL)",
      [=] { return ncclGather(a, nullptr, 4, ncclFloat32, 0, c, nullptr); }, c);
  expectRejected(
      "ncclScatter(root sendbuff=NULL)",
      [=] { return ncclScatter(nullptr, a, 4, ncclFloat32, 0, c, nullptr); }, c);
  expectRejected(
      "ncclSend(sendbuff=NULL)", [=] { return ncclSend(nullptr, 4, ncclFloat32, 0, c, nullptr); },
      c);
  expectRejected(
      "ncclRecv(recvbuff=NULL)", [=] { return ncclRecv(nullptr, 4, ncclFloat32, 0, c, nullptr); },
      c);
}

TEST_F(BadInput, BadDatatype) {
  float* a = a_;
  float* b = b_;
  ncclComm_t c = comm_;
  for (int raw : {-1, 12, 1000}) {
    const auto t = static_cast<ncclDataType_t>(raw);
    const std::string tag = " with datatype " + std::to_string(raw);
    expectRejected(
        "ncclAllReduce" + tag, [=] { return ncclAllReduce(a, b, 4, t, ncclSum, c, nullptr); }, c);
    expectRejected(
        "ncclBroadcast" + tag, [=] { return ncclBroadcast(a, b, 4, t, 0, c, nullptr); }, c);
    expectRejected(
        "ncclReduce" + tag, [=] { return ncclReduce(a, b, 4, t, ncclSum, 0, c, nullptr); }, c);
    expectRejected(
        "ncclAllGather" + tag, [=] { return ncclAllGather(a, b, 4, t, c, nullptr); }, c);
    expectRejected(
        "ncclReduceScatter" + tag,
        [=] { return ncclReduceScatter(a, b, 4, t, ncclSum, c, nullptr); }, c);
    expectRejected(
        "ncclAlltoAll" + tag, [=] { return ncclAlltoAll(a, b, 4, t, c, nullptr); }, c);
    expectRejected(
        "ncclGather" + tag, [=] { return ncclGather(a, b, 4, t, 0, c, nullptr); }, c);
    expectRejected(
        "ncclScatter" + tag, [=] { return ncclScatter(a, b, 4, t, 0, c, nullptr); }, c);
    expectRejected(
        "ncclSend" + tag, [=] { return ncclSend(a, 4, t, 0, c, nullptr); }, c);
    expectRejected(
        "ncclRecv" + tag, [=] { return ncclRecv(b, 4, t, 0, c, nullptr); }, c);
    expectRejected(
        "ncclRedOpCreatePreMulSum" + tag,
        [=] {
          ncclRedOp_t op;
          double two = 2;
          return ncclRedOpCreatePreMulSum(&op, &two, t, ncclScalarHostImmediate, c);
        },
        c);
  }
}

TEST_F(BadInput, BadReductionOp) {
  float* a = a_;
  float* b = b_;
  ncclComm_t c = comm_;
  for (int raw : {-1, 5, 1000}) {
    const auto op = static_cast<ncclRedOp_t>(raw);
    const std::string tag = " with op " + std::to_string(raw);
    expectRejected(
        "ncclAllReduce" + tag, [=] { return ncclAllReduce(a, b, 4, ncclFloat32, op, c, nullptr); },
        c);
    expectRejected(
        "ncclReduce" + tag, [=] { return ncclReduce(a, b, 4, ncclFloat32, op, 0, c, nullptr); }, c);
    expectRejected(
        "ncclReduceScatter" + tag,
        [=] { return ncclReduceScatter(a, b, 4, ncclFloat32, op, c, nullptr); }, c);
  }
  // A destroyed PreMulSum op, and one used with another type than it was made for.
  ncclRedOp_t op;
  float two = 2;
  ASSERT_EQ(ncclRedOpCreatePreMulSum(&op, &two, ncclFloat32, ncclScalarHostImmediate, c),
            ncclSuccess);
  int32_t ia[4] = {}, ib[4] = {};
  expectRejected(
      "ncclAllReduce(int32 with a float32 PreMulSum op)",
      [=, &ia, &ib] { return ncclAllReduce(ia, ib, 4, ncclInt32, op, c, nullptr); }, c);
  ASSERT_EQ(ncclRedOpDestroy(op, c), ncclSuccess);
  expectRejected(
      "ncclAllReduce(destroyed PreMulSum op)",
      [=] { return ncclAllReduce(a, b, 4, ncclFloat32, op, c, nullptr); }, c);
  expectRejected(
      "ncclRedOpDestroy(twice)", [=] { return ncclRedOpDestroy(op, c); }, c);
  expectRejected(
      "ncclRedOpDestroy(ncclSum)", [=] { return ncclRedOpDestroy(ncclSum, c); }, c);
  expectRejected(
      "ncclRedOpDestroy(ncclAvg)", [=] { return ncclRedOpDestroy(ncclAvg, c); }, c);
  expectRejected(
      "ncclRedOpCreatePreMulSum(op=NULL)",
      [=] {
        float s = 2;
        return ncclRedOpCreatePreMulSum(nullptr, &s, ncclFloat32, ncclScalarHostImmediate, c);
      },
      c);
  expectRejected(
      "ncclRedOpCreatePreMulSum(scalar=NULL)",
      [=] {
        ncclRedOp_t o;
        return ncclRedOpCreatePreMulSum(&o, nullptr, ncclFloat32, ncclScalarHostImmediate, c);
      },
      c);
  expectRejected(
      "ncclRedOpCreatePreMulSum(residence=5)",
      [=] {
        ncclRedOp_t o;
        float s = 2;
        return ncclRedOpCreatePreMulSum(&o, &s, ncclFloat32, static_cast<ncclScalarResidence_t>(5),
                                        c);
      },
      c);
}

TEST_F(BadInput, BadRootAndPeer) {
  float* a = a_;
  float* b = b_;
  ncclComm_t c = comm_;
  for (int bad : {-1, 1, 1000}) {  // the communicator has one rank: 1 == nranks
    const std::string tag = " with root/peer " + std::to_string(bad);
    expectRejected(
        "ncclBroadcast" + tag, [=] { return ncclBroadcast(a, b, 4, ncclFloat32, bad, c, nullptr); },
        c);
    expectRejected(
        "ncclBcast" + tag, [=] { return ncclBcast(a, 4, ncclFloat32, bad, c, nullptr); }, c);
    expectRejected(
        "ncclReduce" + tag,
        [=] { return ncclReduce(a, b, 4, ncclFloat32, ncclSum, bad, c, nullptr); }, c);
    expectRejected(
        "ncclGather" + tag, [=] { return ncclGather(a, b, 4, ncclFloat32, bad, c, nullptr); }, c);
    expectRejected(
        "ncclScatter" + tag, [=] { return ncclScatter(a, b, 4, ncclFloat32, bad, c, nullptr); }, c);
    expectRejected(
        "ncclSend" + tag, [=] { return ncclSend(a, 4, ncclFloat32, bad, c, nullptr); }, c);
    expectRejected(
        "ncclRecv" + tag, [=] { return ncclRecv(b, 4, ncclFloat32, bad, c, nullptr); }, c);
  }
}

// Counts whose byte size overflows size_t must be refused before any memory is touched.
TEST_F(BadInput, CountOverflow) {
  float* a = a_;
  float* b = b_;
  ncclComm_t c = comm_;
  for (size_t count : {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 4 + 1}) {
    const std::string tag = " with count " + std::to_string(count);
    expectRejected(
        "ncclAllReduce" + tag,
        [=] { return ncclAllReduce(a, b, count, ncclFloat32, ncclSum, c, nullptr); }, c);
    expectRejected(
        "ncclBroadcast" + tag,
        [=] { return ncclBroadcast(a, b, count, ncclFloat32, 0, c, nullptr); }, c);
    expectRejected(
        "ncclAllGather" + tag, [=] { return ncclAllGather(a, b, count, ncclFloat32, c, nullptr); },
        c);
    expectRejected(
        "ncclReduceScatter" + tag,
        [=] { return ncclReduceScatter(a, b, count, ncclFloat32, ncclSum, c, nullptr); }, c);
    expectRejected(
        "ncclAlltoAll" + tag, [=] { return ncclAlltoAll(a, b, count, ncclFloat32, c, nullptr); },
        c);
    expectRejected(
        "ncclSend" + tag, [=] { return ncclSend(a, count, ncclFloat32, 0, c, nullptr); }, c);
  }
}

TEST_F(BadInput, GroupMisuse) {
  expectResult("ncclGroupEnd without ncclGroupStart", ncclInvalidUsage,
               [] { return ncclGroupEnd(); });
  expectRejected("ncclGroupSimulateEnd(NULL)", [] { return ncclGroupSimulateEnd(nullptr); });
  // A bad call inside a group is refused; the group still ends (with some result, at
  // once), and the communicator works afterwards.
  float* a = a_;
  float* b = b_;
  ncclComm_t c = comm_;
  const Outcome out = callIsolated(
      [=] {
        if (ncclGroupStart() != ncclSuccess) return ncclInternalError;
        const ncclResult_t bad =
            ncclAllReduce(a, b, 4, static_cast<ncclDataType_t>(99), ncclSum, c, nullptr);
        ncclGroupEnd();
        return bad;
      },
      c, 5000ms);
  ASSERT_EQ(out.ended, Outcome::Ended::Returned)
      << "a group holding a refused call " << out.describe(5000ms);
  EXPECT_TRUE(isRejection(out.result)) << resultName(out.result);
  a_[0] = 1.5f;
  EXPECT_EQ(ncclAllReduce(a_, b_, 4, ncclFloat32, ncclSum, comm_, nullptr), ncclSuccess)
      << ncclGetLastError(comm_);
  EXPECT_EQ(b_[0], 1.5f);
}

TEST_F(BadInput, NullOutputPointers) {
  ncclComm_t c = comm_;
  float* a = a_;
  expectRejected("ncclGetVersion(NULL)", [] { return ncclGetVersion(nullptr); });
  expectRejected("ncclGetUniqueId(NULL)", [] { return ncclGetUniqueId(nullptr); });
  expectRejected(
      "ncclCommCount(comm, NULL)", [=] { return ncclCommCount(c, nullptr); }, c);
  expectRejected(
      "ncclCommUserRank(comm, NULL)", [=] { return ncclCommUserRank(c, nullptr); }, c);
  expectRejected(
      "ncclCommCuDevice(comm, NULL)", [=] { return ncclCommCuDevice(c, nullptr); }, c);
  expectRejected(
      "ncclCommGetAsyncError(comm, NULL)", [=] { return ncclCommGetAsyncError(c, nullptr); }, c);
  expectRejected(
      "ncclCommSplit(newcomm=NULL)", [=] { return ncclCommSplit(c, 0, 0, nullptr, nullptr); }, c);
  expectRejected(
      "ncclCommShrink(newcomm=NULL)",
      [=] { return ncclCommShrink(c, nullptr, 0, nullptr, nullptr, NCCL_SHRINK_DEFAULT); }, c);
  expectRejected(
      "ncclCommRegister(handle=NULL)", [=] { return ncclCommRegister(c, a, 64, nullptr); }, c);
  expectRejected(
      "ncclCommWindowRegister(win=NULL)",
      [=] { return ncclCommWindowRegister(c, a, 64, nullptr, NCCL_WIN_DEFAULT); }, c);
  expectRejected("ncclMemAlloc(ptr=NULL)", [] { return ncclMemAlloc(nullptr, 64); });
  expectRejected("ncclCommInitAll(comms=NULL)",
                 [] { return ncclCommInitAll(nullptr, 1, nullptr); });
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  expectRejected("ncclCommInitRank(comm=NULL)",
                 [=] { return ncclCommInitRank(nullptr, 1, id, 0); });
  expectRejected("ncclCommInitRankScalable(commIds=NULL)", [] {
    ncclComm_t out = nullptr;
    return ncclCommInitRankScalable(&out, 1, 0, 1, nullptr, nullptr);
  });
}

TEST_F(BadInput, BadRegistration) {
  ncclComm_t c = comm_;
  float* a = a_;
  expectRejected(
      "ncclCommRegister(buff=NULL, size>0)",
      [=] {
        void* handle = nullptr;
        return ncclCommRegister(c, nullptr, 64, &handle);
      },
      c);
  expectRejected(
      "ncclCommDeregister(bogus handle)",
      [=] { return ncclCommDeregister(c, reinterpret_cast<void*>(0x1234)); }, c);
  expectRejected(
      "ncclCommWindowRegister(buff=NULL)",
      [=] {
        ncclWindow_t win = nullptr;
        return ncclCommWindowRegister(c, nullptr, 64, &win, NCCL_WIN_DEFAULT);
      },
      c);
  void* handle = nullptr;
  ASSERT_EQ(ncclCommRegister(c, a, 64, &handle), ncclSuccess);
  ASSERT_EQ(ncclCommDeregister(c, handle), ncclSuccess);
  expectRejected(
      "ncclCommDeregister(twice)", [=] { return ncclCommDeregister(c, handle); }, c);
}

TEST_F(BadInput, BadSplitAndShrink) {
  ncclComm_t c = comm_;
  ncclConfig_t badMagic = NCCL_CONFIG_INITIALIZER;
  badMagic.magic = 0xdeadbeef;
  expectRejected(
      "ncclCommSplit(config with a wrong magic)",
      [=]() mutable {
        ncclComm_t out = nullptr;
        return ncclCommSplit(c, 0, 0, &out, &badMagic);
      },
      c);
  expectRejected(
      "ncclCommSplit(color=-5)",
      [=] {
        ncclComm_t out = nullptr;
        return ncclCommSplit(c, -5, 0, &out, nullptr);
      },
      c);
  expectRejected(
      "ncclCommShrink(excluded rank out of range)",
      [=] {
        ncclComm_t out = nullptr;
        int excluded[] = {7};
        return ncclCommShrink(c, excluded, 1, &out, nullptr, NCCL_SHRINK_DEFAULT);
      },
      c);
  expectRejected(
      "ncclCommShrink(excludeRanksCount=-1)",
      [=] {
        ncclComm_t out = nullptr;
        int excluded[] = {0};
        return ncclCommShrink(c, excluded, -1, &out, nullptr, NCCL_SHRINK_DEFAULT);
      },
      c);
  expectRejected(
      "ncclCommShrink(list=NULL, count=1)",
      [=] {
        ncclComm_t out = nullptr;
        return ncclCommShrink(c, nullptr, 1, &out, nullptr, NCCL_SHRINK_DEFAULT);
      },
      c);
}

// Communicator creation with bad arguments. Each refused call must return at once, not
// wait for peers.
// A root or peer equal to nranks on a multi-rank communicator, inside a group: refused at
// the call (not only at ncclGroupEnd) with a reason, and the group then reports the
// failure instead of running anything.
TEST(BadInGroup, RankEqualToNranksIsRefusedAtTheCall) {
  runRanks(2, Mode::Threads, [](RankContext& ctx) {
    float a[4] = {1, 2, 3, 4};
    float b[4] = {};
    struct Case {
      const char* call;
      std::function<ncclResult_t()> run;
    };
    const std::vector<Case> cases = {
        {"ncclSend(peer=2)", [&] { return ncclSend(a, 4, ncclFloat32, 2, ctx.comm, nullptr); }},
        {"ncclRecv(peer=2)", [&] { return ncclRecv(b, 4, ncclFloat32, 2, ctx.comm, nullptr); }},
        {"ncclBroadcast(root=2)",
         [&] { return ncclBroadcast(a, b, 4, ncclFloat32, 2, ctx.comm, nullptr); }},
        {"ncclReduce(root=2)",
         [&] { return ncclReduce(a, b, 4, ncclFloat32, ncclSum, 2, ctx.comm, nullptr); }},
        {"ncclGather(root=2)",
         [&] { return ncclGather(a, b, 2, ncclFloat32, 2, ctx.comm, nullptr); }},
        {"ncclScatter(root=2)",
         [&] { return ncclScatter(a, b, 2, ncclFloat32, 2, ctx.comm, nullptr); }},
    };
    for (const Case& c : cases) {
      ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
      const ncclResult_t result = c.run();
      const std::string why = ncclGetLastError(ctx.comm);
      const ncclResult_t end = ncclGroupEnd();
      ctx.require(result == ncclInvalidArgument,
                  std::string(c.call) + " in a group returned " + resultName(result));
      ctx.require(why.find("2") != std::string::npos,
                  std::string(c.call) + ": the reason does not name the rank: '" + why + "'");
      ctx.require(end != ncclSuccess, std::string(c.call) + ": ncclGroupEnd succeeded");
    }
    // The communicator is still usable: nothing ran.
    float x = static_cast<float>(ctx.rank + 1), sum = 0;
    ctx.requireOk(ncclAllReduce(&x, &sum, 1, ncclFloat32, ncclSum, ctx.comm, nullptr),
                  "ncclAllReduce after the refused calls");
    ctx.require(sum == 3.0f, "allreduce gave " + std::to_string(sum));
  });
}

TEST(BadInit, BadArguments) {
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  for (int nranks : {0, -1}) {
    expectRejected("ncclCommInitRank(nranks=" + std::to_string(nranks) + ")", [=] {
      ncclComm_t out = nullptr;
      return ncclCommInitRank(&out, nranks, id, 0);
    });
    expectRejected("ncclCommInitAll(ndev=" + std::to_string(nranks) + ")", [=] {
      ncclComm_t out[2] = {};
      return ncclCommInitAll(out, nranks, nullptr);
    });
    expectRejected("ncclCommInitRankScalable(nranks=" + std::to_string(nranks) + ")", [=] {
      ncclComm_t out = nullptr;
      ncclUniqueId ids[1] = {id};
      return ncclCommInitRankScalable(&out, nranks, 0, 1, ids, nullptr);
    });
  }
  for (int rank : {-1, 2, 100}) {
    expectRejected("ncclCommInitRank(nranks=2, rank=" + std::to_string(rank) + ")", [=] {
      ncclComm_t out = nullptr;
      return ncclCommInitRank(&out, 2, id, rank);
    });
  }
  expectRejected("ncclCommInitRankScalable(nId=0)", [=] {
    ncclComm_t out = nullptr;
    ncclUniqueId ids[1] = {id};
    return ncclCommInitRankScalable(&out, 1, 0, 0, ids, nullptr);
  });
  ncclConfig_t badMagic = NCCL_CONFIG_INITIALIZER;
  badMagic.magic = 0x12345678;
  expectRejected("ncclCommInitRankConfig(wrong magic)", [=]() mutable {
    ncclComm_t out = nullptr;
    return ncclCommInitRankConfig(&out, 1, id, 0, &badMagic);
  });
  ncclConfig_t badBlocking = NCCL_CONFIG_INITIALIZER;
  badBlocking.blocking = 5;
  expectRejected("ncclCommInitRankConfig(blocking=5)", [=]() mutable {
    ncclComm_t out = nullptr;
    return ncclCommInitRankConfig(&out, 1, id, 0, &badBlocking);
  });
}

// A unique id that no ncclGetUniqueId produced is refused at once, on any rank.
TEST(BadInit, GarbageUniqueId) {
  std::mt19937_64 rng(2024);
  for (int attempt = 0; attempt < 3; ++attempt) {
    ncclUniqueId garbage;
    for (char& ch : garbage.internal) ch = static_cast<char>(rng());
    if (attempt == 2) std::memset(&garbage, 0, sizeof(garbage));
    for (int rank : {0, 1}) {
      const std::string what = "ncclCommInitRank(garbage id #" + std::to_string(attempt) +
                               ", nranks=2, rank=" + std::to_string(rank) + ")";
      const auto start = std::chrono::steady_clock::now();
      const Outcome out = callIsolated(
          [=] {
            ncclComm_t comm = nullptr;
            return ncclCommInitRank(&comm, 2, garbage, rank);
          },
          nullptr, 2000ms);
      if (out.ended != Outcome::Ended::Returned) {
        ADD_FAILURE() << what << ": " << out.describe(2000ms);
        continue;
      }
      EXPECT_EQ(out.result, ncclInvalidArgument)
          << what << ": returned " << resultName(out.result) << " (" << out.lastError << ")";
      EXPECT_FALSE(out.lastError.empty()) << what;
      EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << what;
    }
  }
}

// A setting with a value it cannot take fails the communicator's creation with
// ncclInvalidArgument and a reason naming the variable, before any exchange with peers.
TEST(BadInit, BadSettings) {
  const struct {
    const char* name;
    const char* value;
  } cases[] = {{"PRISM_DEVICE_SYNC", "flags"},
               {"PRISM_TRANSPORT", "carrier-pigeon"},
               {"PRISM_BUFFSIZE", "1024"},
               {"PRISM_SLOT_STORES", "sometimes"}};
  for (const auto& c : cases) {
    testing::ScopedEnv env(c.name, c.value);
    const std::string what = std::string(c.name) + "=" + c.value;
    const Outcome out = callIsolated(
        [] {
          ncclComm_t comm = nullptr;
          int devices[1] = {0};
          return ncclCommInitAll(&comm, 1, devices);
        },
        nullptr, 10s);
    if (out.ended != Outcome::Ended::Returned) {
      ADD_FAILURE() << what << ": " << out.describe(10s);
      continue;
    }
    EXPECT_EQ(out.result, ncclInvalidArgument)
        << what << ": returned " << resultName(out.result) << " (" << out.lastError << ")";
    EXPECT_NE(out.lastError.find(c.name), std::string::npos)
        << what << ": last error \"" << out.lastError << "\" does not name the variable";
  }
}

// A failed ncclCommInitRank may leave a handle in *comm; ncclGetLastError on that handle
// gives the reason too, not an empty string.
TEST(BadInit, FailedInitHandleCarriesTheReason) {
  testing::ScopedEnv env("PRISM_TRANSPORT", "carrier-pigeon");
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm = nullptr;
  ASSERT_EQ(ncclCommInitRank(&comm, 1, id, 0), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("PRISM_TRANSPORT"), std::string::npos)
      << ncclGetLastError(nullptr);
  if (comm != nullptr) {
    EXPECT_NE(std::string(ncclGetLastError(comm)).find("PRISM_TRANSPORT"), std::string::npos)
        << "ncclGetLastError(comm): \"" << ncclGetLastError(comm) << "\"";
    EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess);
  }
  // The same through ncclCommInitAll, whose inits run at its internal group's end.
  ncclComm_t comms[2] = {};
  ASSERT_EQ(ncclCommInitAll(comms, 2, nullptr), ncclInvalidArgument);
  for (ncclComm_t c : comms) {
    if (c == nullptr) continue;
    EXPECT_NE(std::string(ncclGetLastError(c)).find("PRISM_TRANSPORT"), std::string::npos)
        << "ncclGetLastError(comms[i]): \"" << ncclGetLastError(c) << "\"";
    EXPECT_EQ(ncclCommDestroy(c), ncclSuccess);
  }
}

}  // namespace
}  // namespace prism::test
