// In-network aggregation (docs/in-network.md): a real prism-innet service on loopback,
// AllReduce through the public API with PRISM_ALGO=innet on 1..5 ranks as threads and as
// processes, failure handling (a rank that dies, an unreachable service), concurrent jobs,
// the cost model, and the schedule that models the service for the verifier.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "algorithms/generators.h"
#include "algorithms/in_network_model.h"
#include "algorithms/verifier.h"
#include "base/dtype.h"
#include "base/socket.h"
#include "nccl.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/reference.h"
#include "tests/harness/route_check.h"
#include "tests/harness/scoped_env.h"
#include "transports/in_network/in_network_protocol.h"

// tests/CMakeLists.txt passes the built service's path; without it every service test skips.
#ifndef PRISM_INNET_BIN
#define PRISM_INNET_BIN ""
#endif

namespace prism::test {
namespace {

/// A prism-innet process on 127.0.0.1 with a free port, stopped at the end of the program.
class InnetService {
 public:
  InnetService() {
    int fds[2];
    if (std::strlen(PRISM_INNET_BIN) == 0 || pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the test program
      dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      execl(PRISM_INNET_BIN, PRISM_INNET_BIN, "--listen", "127.0.0.1:0", "--timeout", "10",
            "--threads", "2", static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(fds[1]);
    // The service prints "prism-innet listening on ADDR:PORT" once it is bound.
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    size_t at = line.find(" on ");
    if (at != std::string::npos) address_ = line.substr(at + 4, line.find('\n') - at - 4);
  }
  ~InnetService() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  const std::string& address() const { return address_; }
  bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
  std::string address_;
};

InnetService& service() {
  static InnetService instance;
  return instance;
}

constexpr const char* kNoService = "prism-innet did not start";

/// PRISM_INNET_ADDR pointing at the service and PRISM_ALGO=innet, for one scope.
struct ForcedInNetwork {
  testing::ScopedEnv addr{"PRISM_INNET_ADDR", service().address().c_str()};
  testing::ScopedEnv algo{"PRISM_ALGO", "innet"};
};

MatrixScope fullScope() {
  return {{ncclFloat32, ncclInt32, ncclInt64, ncclBfloat16, ncclUint8},
          {RefOp::Sum, RefOp::Prod, RefOp::Min, RefOp::Max, RefOp::Avg, RefOp::PreMulSum},
          {0, 1, 7, 4099, 100003},
          (size_t{1} << 21) + 5};
}

void runMatrix(int nranks, Mode mode, const MatrixScope& scope) {
  const Coll allReduce[] = {Coll::AllReduce};
  runCollectiveMatrix(nranks, mode, allReduce, scope);
}

std::string ranksName(const ::testing::TestParamInfo<int>& info) {
  return "n" + std::to_string(info.param);
}

class InNetworkThreads : public ::testing::TestWithParam<int> {};
class InNetworkProcesses : public ::testing::TestWithParam<int> {};

TEST_P(InNetworkThreads, AllReduceMatrix) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  ForcedInNetwork env;
  runMatrix(GetParam(), Mode::Threads, fullScope());
}

TEST_P(InNetworkProcesses, AllReduceMatrix) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  ForcedInNetwork env;
  runMatrix(GetParam(), Mode::Processes, fullScope());
}

INSTANTIATE_TEST_SUITE_P(Ranks, InNetworkThreads, ::testing::Values(1, 2, 3, 4, 5), ranksName);
INSTANTIATE_TEST_SUITE_P(Ranks, InNetworkProcesses, ::testing::Values(1, 2, 3, 4, 5), ranksName);

/// Rank r's value i: full-range bits, so sums and products wrap.
uint64_t mix(int rank, size_t i) {
  uint64_t x = (static_cast<uint64_t>(rank) << 40) ^ (i * 0x9e3779b97f4a7c15ull) ^ 0x5bd1e995;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  return x ^ (x >> 32);
}

constexpr size_t kBitCount = 300007;
constexpr std::array<ncclRedOp_t, 4> kIntOps = {ncclSum, ncclProd, ncclMax, ncclAvg};

/// Runs int32 and int64 AllReduce of random full-range values with every op in kIntOps and
/// stores rank 0's results (or compares with what is stored, `compare`).
/// Kept across two runs in `shared`, memory every forked rank sees (MAP_SHARED).
void integerRun(int nranks, bool compare, unsigned char* shared) {
  runRanks(nranks, Mode::Processes, [&](RankContext& ctx) {
    for (ncclDataType_t type : {ncclInt32, ncclInt64}) {
      size_t elem = type == ncclInt32 ? 4 : 8;
      std::vector<unsigned char> in(kBitCount * elem), out(kBitCount * elem);
      for (size_t i = 0; i < kBitCount; ++i) {
        uint64_t v = mix(ctx.rank, i);
        std::memcpy(in.data() + i * elem, &v, elem);
      }
      for (size_t k = 0; k < kIntOps.size(); ++k) {
        ctx.requireOk(
            ncclAllReduce(in.data(), out.data(), kBitCount, type, kIntOps[k], ctx.comm, nullptr),
            "ncclAllReduce");
        size_t offset = (k * kBitCount) * 12 + (elem == 8 ? kBitCount * 4 : 0);
        if (ctx.rank != 0) continue;
        if (!compare) {
          std::memcpy(shared + offset, out.data(), out.size());
        } else {
          ctx.expect(std::memcmp(shared + offset, out.data(), out.size()) == 0,
                     "integer op " + std::to_string(k) + " differs from the ring");
        }
      }
    }
  });
}

TEST(InNetwork, IntegerResultsEqualTheRing) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  const size_t bytes = kIntOps.size() * kBitCount * 12;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  {
    testing::ScopedEnv algo("PRISM_ALGO", "ring");
    testing::ScopedEnv addr("PRISM_INNET_ADDR", nullptr);
    integerRun(4, false, static_cast<unsigned char*>(mem));
  }
  {
    ForcedInNetwork env;
    integerRun(4, true, static_cast<unsigned char*>(mem));
  }
  munmap(mem, bytes);
}

/// Waits for `pid` at most until `deadline`; kills it past that. Returns its wait status.
int waitOrKill(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status;
}

// Rank 2 of 3 dies in the middle of a stream of large AllReduce calls. The service sees its
// connection drop, fails the job and tells the others, whose calls then return an error
// (not a hang); the service itself goes on serving new jobs.
TEST(InNetwork, DeadRankFailsItsPeersAndTheServiceGoesOn) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  ForcedInNetwork env;
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "5");
  constexpr int kRanks = 3;
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  std::vector<pid_t> pids;
  for (int r = 0; r < kRanks; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      ncclComm_t comm = nullptr;
      if (ncclCommInitRank(&comm, kRanks, id, r) != ncclSuccess) _exit(10);
      std::vector<float> buf(size_t{4} << 20, 1.0f);
      auto call = [&] {
        return ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm,
                             nullptr);
      };
      if (call() != ncclSuccess) _exit(11);
      if (r == kRanks - 1) {
        std::thread([] {
          std::this_thread::sleep_for(std::chrono::milliseconds(3));
          _exit(0);
        }).detach();
      }
      ncclResult_t result = ncclSuccess;
      for (int i = 0; i < 200 && result == ncclSuccess; ++i) result = call();
      if (r == kRanks - 1) _exit(12);
      std::string message = ncclGetLastError(comm);
      bool named = message.find(service().address()) != std::string::npos;
      _exit(result == ncclRemoteError && named ? 0 : 13);
    }
    pids.push_back(pid);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int r = 0; r < kRanks; ++r) {
    int status = waitOrKill(pids[r], deadline);
    ASSERT_TRUE(WIFEXITED(status)) << "rank " << r << " hung or crashed";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "rank " << r;
  }
  EXPECT_TRUE(service().alive());
  runMatrix(2, Mode::Threads, {{ncclFloat32}, {RefOp::Sum}, {4099, 100003}});
}

TEST(InNetwork, TwoCommunicatorsAtOnce) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  ForcedInNetwork env;
  MatrixScope scope{{ncclFloat32, ncclInt32}, {RefOp::Sum, RefOp::Max}, {1, 4099, 100003}};
  std::thread other([&] { runMatrix(2, Mode::Threads, scope); });
  runMatrix(3, Mode::Threads, scope);
  other.join();
}

// One road (src/comm/router.h): grouped and native AllReduces take the service as a lone
// call does.
TEST(InNetwork, GroupedAndNativeCallsTakeTheServiceLikeALoneCall) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  ForcedInNetwork env;
  runRanks(3, Mode::Threads,
           [](RankContext& ctx) { requireEveryRoadTakes(ctx, Path::InNetwork, 100003); });
}

TEST(InNetwork, UnreachableServiceIsAClearError) {
  // A port nothing listens on: bind one, note it, close it.
  std::string address;
  {
    net::Socket probe = net::Socket::listen(innet::parseAddress("127.0.0.1:0"));
    address = "127.0.0.1:" + std::to_string(probe.localAddress().port);
  }
  testing::ScopedEnv addr("PRISM_INNET_ADDR", address.c_str());
  testing::ScopedEnv algo("PRISM_ALGO", "innet");
  runRanks(2, Mode::Threads, [&](RankContext& ctx) {
    std::vector<float> buf(1024, 1.0f);
    ncclResult_t result =
        ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, ctx.comm, nullptr);
    ctx.require(result == ncclSystemError, "expected ncclSystemError, got " + resultName(result));
    std::string message = ncclGetLastError(ctx.comm);
    ctx.require(message.find(address) != std::string::npos,
                "message lacks the address: " + message);
  });
}

// Without PRISM_ALGO=innet the cost model decides per size (on one host, where no network
// link is saved, it keeps the plans); whatever it picks must be right.
TEST(InNetwork, AutomaticSelectionBySize) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  testing::ScopedEnv addr("PRISM_INNET_ADDR", service().address().c_str());
  testing::ScopedEnv algo("PRISM_ALGO", nullptr);
  runMatrix(3, Mode::Processes,
            {{ncclFloat32, ncclInt64}, {RefOp::Sum, RefOp::Avg}, {7, 16383, 16384, 300001}});
}

// The service refuses a rank whose Hello disagrees with its job, with an Error frame.
TEST(InNetworkService, RefusesAMismatchedHello) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  const net::SocketAddress address = innet::parseAddress(service().address());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string token = "mismatched-hello-test";
  auto hello = [&](net::Socket& s, int rank, int nranks) {
    ASSERT_TRUE(net::Socket::connect(address, deadline, &s).ok());
    innet::Frame f = innet::makeHello({rank, nranks, 65536, 2}, token.size());
    ASSERT_TRUE(s.sendAll(&f, sizeof(f), deadline).ok());
    ASSERT_TRUE(s.sendAll(token.data(), token.size(), deadline).ok());
  };
  net::Socket first, second;
  hello(first, 0, 2);
  hello(second, 1, 3);  // same job, another size
  innet::Frame reply;
  ASSERT_TRUE(second.recvAll(&reply, sizeof(reply), deadline).ok());
  EXPECT_EQ(reply.magic, innet::kMagic);
  EXPECT_EQ(reply.type, innet::FrameType::Error);
  std::string text(reply.bytes, '\0');
  ASSERT_TRUE(second.recvAll(text.data(), text.size(), deadline).ok());
  EXPECT_NE(text.find("nranks 3"), std::string::npos) << text;
  EXPECT_TRUE(service().alive());
}

/// A rank speaking the wire protocol by hand, for service-level tests.
class RawRank {
 public:
  RawRank(const std::string& token, innet::HelloInfo info) : info_(info) {
    deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    ok_ = net::Socket::connect(innet::parseAddress(service().address()), deadline_, &socket_).ok();
    innet::Frame f = innet::makeHello(info, token.size());
    ok_ = ok_ && socket_.sendAll(&f, sizeof(f), deadline_).ok() &&
          socket_.sendAll(token.data(), token.size(), deadline_).ok();
  }
  bool ok() const { return ok_; }
  innet::Frame readHeader() {
    innet::Frame f;
    f.magic = 0;
    ok_ = ok_ && socket_.recvAll(&f, sizeof(f), deadline_).ok();
    return f;
  }
  /// Sends chunk `ticket` of int32 values all equal to `value`.
  void sendChunk(uint64_t ticket, int32_t value) {
    std::vector<int32_t> data(info_.chunkBytes / 4, value);
    innet::Frame f;
    f.type = innet::FrameType::Chunk;
    f.dtype = static_cast<uint8_t>(DataType::Int32);
    f.op = static_cast<uint8_t>(ReduceOp::Sum);
    f.bytes = info_.chunkBytes;
    f.sequence = ticket;
    f.ticket = ticket;
    ok_ = ok_ && socket_.sendAll(&f, sizeof(f), deadline_).ok() &&
          socket_.sendAll(data.data(), f.bytes, deadline_).ok();
  }
  /// Reads the result of `ticket`; true when every element equals `want`.
  bool readResult(uint64_t ticket, int32_t want) {
    innet::Frame f = readHeader();
    if (!ok_ || f.type != innet::FrameType::Result || f.ticket != ticket) return false;
    std::vector<int32_t> data(f.bytes / 4);
    ok_ = socket_.recvAll(data.data(), f.bytes, deadline_).ok();
    return ok_ && std::all_of(data.begin(), data.end(), [&](int32_t v) { return v == want; });
  }

 private:
  innet::HelloInfo info_;
  net::Socket socket_;
  net::Deadline deadline_;
  bool ok_ = false;
};

// Backpressure: with one 16 MiB slot (more than the socket buffers hold), rank 0 sends
// chunk 1 while the service still writes result 0 to rank 1, which does not read yet. The
// service must hold rank 0's chunk back until the slot is free, then finish correctly.
TEST(InNetworkService, HoldsBackAChunkWhileItsSlotIsBusy) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  const uint32_t chunk = innet::kMaxChunkBytes;
  RawRank r0("backpressure-test", {0, 2, chunk, 1});
  RawRank r1("backpressure-test", {1, 2, chunk, 1});
  ASSERT_EQ(r0.readHeader().type, innet::FrameType::Welcome);
  ASSERT_EQ(r1.readHeader().type, innet::FrameType::Welcome);
  r0.sendChunk(0, 1);
  r1.sendChunk(0, 2);
  ASSERT_TRUE(r0.readResult(0, 3));
  std::thread early([&] { r0.sendChunk(1, 10); });  // blocks: the service stops reading it
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(r1.readResult(0, 3));
  r1.sendChunk(1, 20);
  early.join();
  EXPECT_TRUE(r0.readResult(1, 30));
  EXPECT_TRUE(r1.readResult(1, 30));
  EXPECT_TRUE(r0.ok() && r1.ok());
}

// A rank that never joins: the ranks that did fail after PRISM_TIMEOUT_S, naming the
// service, instead of waiting forever for Welcome.
TEST(InNetwork, AMissingRankTimesOut) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  ForcedInNetwork env;
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "2");
  runRanks(2, Mode::Threads, [&](RankContext& ctx) {
    if (ctx.rank == 1) return;
    std::vector<float> buf(1024, 1.0f);
    ncclResult_t result =
        ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, ctx.comm, nullptr);
    ctx.require(result == ncclRemoteError, "expected ncclRemoteError, got " + resultName(result));
    std::string message = ncclGetLastError(ctx.comm);
    ctx.require(message.find(service().address()) != std::string::npos, message);
  });
}

// ncclCommAbort from another thread stops a call waiting on the service promptly.
TEST(InNetwork, AbortStopsAWaitingCall) {
  if (service().address().empty()) GTEST_SKIP() << kNoService;
  ForcedInNetwork env;
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "60");
  runRanks(2, Mode::Threads, [&](RankContext& ctx) {
    std::vector<float> buf(1024, 1.0f);
    auto call = [&] {
      return ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, ctx.comm,
                           nullptr);
    };
    ctx.requireOk(call(), "ncclAllReduce");
    if (ctx.rank == 0) {
      // Rank 1 does not join this call, so it waits until the abort.
      std::thread aborter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        ncclCommAbort(ctx.comm);
      });
      auto start = std::chrono::steady_clock::now();
      ncclResult_t result = call();
      aborter.join();
      ctx.comm = nullptr;
      ctx.require(result != ncclSuccess, "the aborted call succeeded");
      ctx.require(std::chrono::steady_clock::now() - start < std::chrono::seconds(10),
                  "the abort was not noticed promptly");
    }
    ctx.barrier();
  });
}

TEST(InNetworkModel, PredictsOverlappedUpAndDown) {
  InNetworkCosts c;
  c.linkBytesPerMicro = 1000.0;
  c.latencyMicros = 5.0;
  c.stepMicros = 20.0;
  // 1 MiB: all of it down (1048.576) after the first 256 KiB chunk went up (262.144), plus a
  // round trip (10) and a send and a receive step (40).
  EXPECT_DOUBLE_EQ(predictInNetworkMicros(1 << 20, 4, c), 1048.576 + 262.144 + 10.0 + 40.0);
  // Smaller than a chunk: the pipeline is one chunk.
  EXPECT_DOUBLE_EQ(predictInNetworkMicros(1000, 8, c), 1.0 + 1.0 + 10.0 + 40.0);
  EXPECT_DOUBLE_EQ(predictInNetworkMicros(0, 4, c), 0.0);
}

TEST(InNetworkModel, BurstPassesUnpacedButCallsCannotBeatTheRate) {
  InNetworkCosts c;
  c.linkBytesPerMicro = 125.0;  // 1 Gbit/s
  c.latencyMicros = 50.0;
  c.stepMicros = 20.0;
  c.burstBytes = 1.25e6;
  // Within the burst: no fill and nothing paced, but no faster than the rate: 1e5 B / 125.
  EXPECT_DOUBLE_EQ(predictInNetworkMicros(100000, 4, c), 800.0);
  // A small message: the round trip and the two steps.
  EXPECT_DOUBLE_EQ(predictInNetworkMicros(1000, 4, c), 140.0);
  // Beyond it: fill + chain + the 750000 B past the burst paced is 8237 us, under the rate's
  // 16000, which decides.
  EXPECT_DOUBLE_EQ(predictInNetworkMicros(2000000, 4, c), 16000.0);
  c.linkBytesPerMicro = 1e4;  // a fast link: fill + chain + paced exceed the rate's 200 us
  EXPECT_NEAR(predictInNetworkMicros(2000000, 4, c), 26.2144 + 140.0 + 75.0, 1e-9);
}

TEST(InNetworkModel, OversubscribedRanksQueueForTheCores) {
  InNetworkCosts c;
  c.linkBytesPerMicro = 1e6;  // the wire is not the bottleneck here
  c.latencyMicros = 0.0;
  c.stepMicros = 20.0;
  c.wakeMicros = 15.0;
  c.sharedCores = 2;
  // 8 ranks, one chunk each: 2 steps x (20 + 15) us per rank, 8 ranks over 2 cores.
  // Plus the 1000 B paced after it (no burst).
  EXPECT_NEAR(predictInNetworkMicros(1000, 8, c), 8 * 2 * 35.0 / 2 + 1000.0 / 1e6, 1e-9);
  // No more ranks than cores: the chain (fill, two steps) and the paced bytes.
  EXPECT_NEAR(predictInNetworkMicros(1000, 2, c), 1000.0 / 1e6 + 40.0 + 1000.0 / 1e6, 1e-9);
}

TEST(InNetworkSchedule, VerifiesOn1To64Ranks) {
  for (int n = 1; n <= 64; ++n) {
    Schedule s = generateInNetwork({Collective::AllReduce, n, 0});
    ASSERT_EQ(s.aggregators, 1);
    ASSERT_EQ(s.steps.size(), static_cast<size_t>(n) + 1);
    for (bool inPlace : {false, true}) {
      VerifyResult result = verifySchedule(s, inPlace);
      EXPECT_TRUE(result.ok) << "n=" << n << (inPlace ? " in place: " : ": ") << result.error;
    }
  }
}

// The verifier really checks the aggregator: one that skips a rank, or that contributes
// its own (nonexistent) input, is rejected.
TEST(InNetworkSchedule, VerifierRejectsBrokenAggregators) {
  Schedule skips = generateInNetwork({Collective::AllReduce, 4, 0});
  std::vector<Step>& agg = skips.steps[4];
  agg.erase(agg.begin() + 2);  // never receives rank 2's contribution
  EXPECT_FALSE(verifySchedule(skips, false).ok);

  Schedule ownInput = generateInNetwork({Collective::AllReduce, 3, 0});
  ownInput.steps[3][0] = {StepKind::Copy,        -1,   -1, {BufferId::Input, 0},
                          {BufferId::Output, 0}, false};
  EXPECT_FALSE(verifySchedule(ownInput, false).ok);

  Schedule noAggregator = generateInNetwork({Collective::AllReduce, 3, 0});
  noAggregator.aggregators = 0;
  EXPECT_FALSE(verifySchedule(noAggregator, false).ok);
}

}  // namespace
}  // namespace prism::test
