// The TCP transport and multi-host communicators: messages of every size and their order
// between ranks as threads and processes over loopback, collectives through the public
// API with PRISM_TRANSPORT=tcp, a peer that dies mid-collective, set-up failures, and two
// emulated hosts in network namespaces (skipped where namespaces cannot be created).
#include "transports/tcp/tcp_transport.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "nccl.h"
#include "src/api/handle.h"
#include "src/bootstrap/bootstrap.h"
#include "src/comm/communicator.h"
#include "tests/harness/forked_ranks.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"
#include "tests/harness/transport_traffic.h"
#include "transports/tcp/tcp_link.h"

namespace prism {
namespace {

using prism::testing::ScopedEnv;
using test::Coll;
using test::forkAll;
using test::Mode;
using test::noteError;
using test::RankContext;
using test::Report;
using test::RunOptions;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(30);

// ---------------------------------------------------------------- striping (pure)

TEST(TcpStripe, EveryByteOnExactlyOneSocket) {
  for (int count = 1; count <= 5; ++count) {
    for (size_t bytes :
         {size_t{0}, size_t{1}, size_t{4095}, tcp::kMinStripeBytes - 1, tcp::kMinStripeBytes,
          tcp::kMinStripeBytes + 1, size_t{1} << 20, (size_t{1} << 20) + 37}) {
      for (uint64_t seq = 0; seq < 7; ++seq) {
        std::vector<int> covered(bytes, 0);
        int carriers = 0;
        for (int i = 0; i < count; ++i) {
          tcp::Stripe s = tcp::stripeOf(seq, bytes, i, count);
          if (!s.carries) continue;
          ++carriers;
          ASSERT_LE(s.offset + s.bytes, bytes);
          for (size_t b = s.offset; b < s.offset + s.bytes; ++b) ++covered[b];
        }
        ASSERT_GE(carriers, 1) << "message " << seq << " of " << bytes << " bytes goes nowhere";
        size_t wrong = 0;
        for (int c : covered) wrong += c != 1;
        ASSERT_EQ(wrong, 0u) << bytes << " bytes over " << count
                             << " sockets: bytes lost or sent twice";
        if (bytes >= tcp::kMinStripeBytes) {
          EXPECT_EQ(carriers, count);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- transport level

struct TransportCase {
  int ranks;
  Mode mode;
  int sockets;
  size_t slotBytes;
};

class TcpTransportLevel : public ::testing::TestWithParam<TransportCase> {};

TEST_P(TcpTransportLevel, PingPongAndOrderedStreams) {
  const TransportCase c = GetParam();
  RunOptions options;
  options.initComm = false;
  options.timeout = std::chrono::seconds(60);
  test::runRanks(
      c.ranks, c.mode,
      [&](RankContext& ctx) {
        auto setup = connectBootstrap(ctx.id, ctx.rank, ctx.nranks);
        TcpTransportOptions o;
        o.slotBytes = c.slotBytes;
        o.slotCount = 4;
        o.socketsPerPeer = c.sockets;
        o.threads = c.ranks > 2 ? 2 : 1;
        o.name = "transport-test";
        std::vector<bool> all(ctx.nranks, true);
        all[ctx.rank] = false;
        auto t = createTcpTransport(*setup, o, all);
        ctx.require(std::string(t->name()) == "tcp", "wrong transport");
        test::pingPong(ctx, *t);
        test::Traffic traffic(*t, 300);
        test::driveTraffic(ctx, *t, traffic);
        setup->barrier();  // nobody closes while a peer still reads
      },
      options);
}

std::string caseName(const ::testing::TestParamInfo<TransportCase>& info) {
  const TransportCase& c = info.param;
  return std::to_string(c.ranks) + "ranks_" + (c.mode == Mode::Threads ? "threads" : "processes") +
         "_" + std::to_string(c.sockets) + "sockets_" + std::to_string(c.slotBytes / 1024) + "KiB";
}

INSTANTIATE_TEST_SUITE_P(Loopback, TcpTransportLevel,
                         ::testing::Values(TransportCase{2, Mode::Threads, 1, 16 * 1024},
                                           TransportCase{2, Mode::Processes, 1, 16 * 1024},
                                           TransportCase{3, Mode::Threads, 3, 256 * 1024},
                                           TransportCase{3, Mode::Processes, 2, 256 * 1024}),
                         caseName);

TEST(TcpTransportSetup, NoMatchingInterfaceFailsOnEveryRank) {
  RunOptions options;
  options.initComm = false;
  options.timeout = std::chrono::seconds(60);
  test::runRanks(
      2, Mode::Processes,
      [&](RankContext& ctx) {
        auto setup = connectBootstrap(ctx.id, ctx.rank, ctx.nranks);
        // Each rank is its own (single-threaded) process here, so setenv is safe.
        setenv("PRISM_SOCKET_IFNAME", "=prism-no-such-if0", 1);
        TcpTransportOptions o;
        std::vector<bool> all(2, true);
        all[ctx.rank] = false;
        try {
          auto t = createTcpTransport(*setup, o, all);
          ctx.fail("created a TCP transport without an interface");
        } catch (const Error& e) {
          ctx.require(std::string(e.what()).find("prism-no-such-if0") != std::string::npos,
                      std::string("unclear error: ") + e.what());
        }
      },
      options);
}

// ---------------------------------------------------------------- collectives

class TcpCollectives : public ::testing::TestWithParam<int> {};

TEST_P(TcpCollectives, AllReduceMatrixAsProcesses) {
  const int nranks = GetParam();
  ScopedEnv transport("PRISM_TRANSPORT", "tcp");
  const test::MatrixScope scope{{ncclFloat32, ncclInt32, ncclBfloat16},
                                {test::RefOp::Sum, test::RefOp::Max, test::RefOp::Avg},
                                {0, 1, 7, 4099, 100003}};
  RunOptions options;
  options.sharedBytes = test::checkerSharedBytes(Coll::AllReduce, nranks, 100003);
  options.timeout = std::chrono::seconds(120);
  test::runRanks(
      nranks, Mode::Processes,
      [&](RankContext& ctx) {
        Communicator& comm = ctx.comm->get();
        ctx.require(std::string(comm.transport().name()) == "tcp",
                    std::string("PRISM_TRANSPORT=tcp gave transport ") + comm.transport().name());
        ctx.require(comm.hostOf() == std::vector<int>(nranks, 0), "ranks not on one host");
        test::runCases(ctx, Coll::AllReduce, scope);
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(Ranks, TcpCollectives, ::testing::Values(2, 3, 5),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

TEST(TcpCollectives, ThreadsMixOfCollectives) {
  ScopedEnv transport("PRISM_TRANSPORT", "tcp");
  const test::MatrixScope scope{{ncclFloat32}, {test::RefOp::Sum}, {0, 7, 4099, 100003}};
  RunOptions options;
  for (Coll c : {Coll::AllGather, Coll::ReduceScatter, Coll::Broadcast, Coll::SendRecv}) {
    options.sharedBytes = std::max(options.sharedBytes, test::checkerSharedBytes(c, 3, 100003));
  }
  test::runRanks(
      3, Mode::Threads,
      [&](RankContext& ctx) {
        for (Coll c : {Coll::AllGather, Coll::ReduceScatter, Coll::Broadcast, Coll::SendRecv}) {
          test::runCases(ctx, c, scope);
        }
      },
      options);
}

TEST(TransportChoice, UnknownKindIsRejected) {
  ScopedEnv transport("PRISM_TRANSPORT", "carrier-pigeon");
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm = nullptr;
  EXPECT_EQ(ncclCommInitRank(&comm, 1, id, 0), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("PRISM_TRANSPORT"), std::string::npos);
  if (comm != nullptr) ncclCommDestroy(comm);
}

// ---------------------------------------------------------------- forked ranks by hand

// ---------------------------------------------------------------- emulated hosts

/// Two network namespaces joined by a veth pair, deleted again on destruction.
class VethPair {
 public:
  VethPair() {
    const std::string tag = std::to_string(::getpid() % 1000000);
    ns_[0] = "prism-t" + tag + "a";
    ns_[1] = "prism-t" + tag + "b";
    if_[0] = "pv" + tag + "a";
    if_[1] = "pv" + tag + "b";
    const std::string net = "10.213." + std::to_string(::getpid() % 250) + ".";
    addr_[0] = net + "1";
    addr_[1] = net + "2";
    ok_ = sh("ip netns add " + ns_[0]) && (made_ = 1) && sh("ip netns add " + ns_[1]) &&
          (made_ = 2) && sh("ip link add " + if_[0] + " type veth peer name " + if_[1]);
    for (int i = 0; i < 2 && ok_; ++i) {
      ok_ = sh("ip link set " + if_[i] + " netns " + ns_[i]) &&
            sh("ip -n " + ns_[i] + " addr add " + addr_[i] + "/24 dev " + if_[i]) &&
            sh("ip -n " + ns_[i] + " link set " + if_[i] + " up") &&
            sh("ip -n " + ns_[i] + " link set lo up");
    }
    if (!ok_ && made_ == 2) sh("ip link del " + if_[0]);
  }
  ~VethPair() {
    // Deleting a namespace deletes the veth end inside it, and with it the pair.
    for (int i = 0; i < made_; ++i) sh("ip netns del " + ns_[i]);
  }
  bool ok() const { return ok_; }
  const std::string& ns(int i) const { return ns_[i]; }
  const std::string& ifname(int i) const { return if_[i]; }

 private:
  static bool sh(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string ns_[2], if_[2], addr_[2];
  bool ok_ = false;
  int made_ = 0;
};

bool enterNamespace(const std::string& name) {
  int fd = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::setns(fd, CLONE_NEWNET) == 0;
  ::close(fd);
  return ok;
}

/// The id rank 0 creates inside its namespace, handed to the other ranks' processes.
struct IdBox {
  ncclUniqueId id;
  std::atomic<int> ready;
  std::atomic<int> finished;
};

/// Rank 0's process hosts the bootstrap root: it leaves only after every rank is done
/// with it.
void leaveTogether(IdBox* box, int rank, int nranks) {
  box->finished.fetch_add(1);
  auto deadline = Clock::now() + kDeadline;
  while (rank == 0 && box->finished.load() < nranks && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

IdBox* makeIdBox() {
  void* p =
      ::mmap(nullptr, sizeof(IdBox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap");
  auto* box = static_cast<IdBox*>(p);
  box->ready.store(0);
  box->finished.store(0);
  return box;
}

/// In a forked child: enters host `host`'s namespace, uses its veth, and creates rank
/// `rank` of `nranks` with PRISM_TRANSPORT=`kind` (rank 0 creates the id).
ncclResult_t initInNamespace(const VethPair& pair, IdBox* box, int host, int rank, int nranks,
                             const char* kind, ncclComm_t* comm) {
  if (!enterNamespace(pair.ns(host))) throw std::runtime_error("setns failed");
  setenv("PRISM_SOCKET_IFNAME", ("=" + pair.ifname(host)).c_str(), 1);
  setenv("PRISM_TRANSPORT", kind, 1);
  if (rank == 0) {
    ncclResult_t res = ncclGetUniqueId(&box->id);
    if (res != ncclSuccess) return res;
    box->ready.store(1);
  } else {
    auto deadline = Clock::now() + kDeadline;
    while (box->ready.load() == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return ncclCommInitRank(comm, nranks, box->id, rank);
}

TEST(EmulatedHosts, TwoNamespacesOfTwoRanksUseShmAndTcp) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  VethPair pair;
  if (!pair.ok()) GTEST_SKIP() << "cannot create network namespaces and a veth pair here";
  IdBox* box = makeIdBox();
  // Ranks 0 and 1 on "host" 0, ranks 2 and 3 on "host" 1: shared memory inside each
  // namespace, TCP over the veth pair between them.
  constexpr int kRanks = 4;
  std::vector<std::function<void(Report&)>> bodies;
  for (int rank = 0; rank < kRanks; ++rank) {
    bodies.push_back([rank, &pair, box](Report& r) {
      ncclComm_t comm = nullptr;
      ncclResult_t res = initInNamespace(pair, box, rank / 2, rank, kRanks, "auto", &comm);
      leaveTogether(box, rank, kRanks);
      if (res != ncclSuccess) return noteError(r, res, nullptr);
      Communicator& c = comm->get();
      for (int i = 0; i < kRanks; ++i) r.hosts[i] = c.hostOf()[i];
      std::snprintf(r.transport, sizeof(r.transport), "%s", c.transport().name());
      for (size_t count : {size_t{1}, size_t{4099}, size_t{100003}, size_t{1} << 20}) {
        std::vector<int32_t> data(count);
        for (size_t i = 0; i < count; ++i) data[i] = static_cast<int32_t>(i * (rank + 1));
        res = ncclAllReduce(data.data(), data.data(), count, ncclInt32, ncclSum, comm, nullptr);
        if (res != ncclSuccess) return noteError(r, res, comm);
        for (size_t i = 0; i < count; ++i) {
          // The sum over ranks of i * (rank + 1) is i * (1 + 2 + 3 + 4).
          if (data[i] != static_cast<int32_t>(i * 10)) {
            std::snprintf(r.message, sizeof(r.message), "count %zu: element %zu is %d, want %zu",
                          count, i, data[i], i * 10);
            return;
          }
        }
      }
      r.result = ncclCommDestroy(comm);
    });
  }
  std::vector<bool> exited;
  auto reports = forkAll(bodies, std::chrono::seconds(60), &exited);
  ::munmap(box, sizeof(IdBox));
  for (int rank = 0; rank < kRanks; ++rank) {
    EXPECT_TRUE(exited[rank]) << "rank " << rank << " hung";
    EXPECT_EQ(reports[rank].result, ncclSuccess)
        << "rank " << rank << ": " << reports[rank].message;
    EXPECT_EQ(std::vector<int>(reports[rank].hosts, reports[rank].hosts + kRanks),
              (std::vector<int>{0, 0, 1, 1}))
        << "rank " << rank << ": the namespaces were not seen as two hosts of two ranks";
    EXPECT_STREQ(reports[rank].transport, "shm+tcp");
  }
}

TEST(EmulatedHosts, ShmAcrossNamespacesIsRefusedOnEveryRank) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  VethPair pair;
  if (!pair.ok()) GTEST_SKIP() << "cannot create network namespaces and a veth pair here";
  IdBox* box = makeIdBox();
  std::vector<std::function<void(Report&)>> bodies;
  for (int rank = 0; rank < 2; ++rank) {
    bodies.push_back([rank, &pair, box](Report& r) {
      ncclComm_t comm = nullptr;
      noteError(r, initInNamespace(pair, box, rank, rank, 2, "shm", &comm), nullptr);
      leaveTogether(box, rank, 2);
    });
  }
  std::vector<bool> exited;
  auto reports = forkAll(bodies, std::chrono::seconds(60), &exited);
  ::munmap(box, sizeof(IdBox));
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_TRUE(exited[rank]) << "rank " << rank << " hung";
    EXPECT_EQ(reports[rank].result, ncclInvalidUsage)
        << "rank " << rank << ": " << reports[rank].message;
    EXPECT_NE(std::string(reports[rank].message).find("PRISM_TRANSPORT=shm"), std::string::npos)
        << reports[rank].message;
  }
}

}  // namespace
}  // namespace prism
