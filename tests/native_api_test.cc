// The native C++ API: every call returns a Work at once; results match references
// computed here; ordering, concurrency between communicators, errors and DeviceMesh.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "prism/comm.hpp"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"

namespace prism {
namespace {

using test::Mode;
using test::RankContext;
using test::runRanks;
using namespace std::chrono_literals;

/// A small integer that every element of every rank gets; sums stay exact in float.
int value(int rank, size_t i) { return static_cast<int>((rank * 31 + i * 7) % 23) - 11; }

test::RunOptions noComm() {
  test::RunOptions options;
  options.initComm = false;
  return options;
}

Comm join(RankContext& ctx) { return Comm::fromUniqueId(ctx.id, ctx.nranks, ctx.rank); }

/// Buffers and expected results of one round of every collective at one count.
struct Round {
  int rank, n;
  size_t count;
  std::vector<float> sumIn, sumOut, reduceOut, rsIn, rsOut;
  std::vector<int32_t> maxIn, maxOut, bcast, agIn, agOut, a2aIn, a2aOut, ringSend, ringRecv;
  std::vector<double> avgIn, avgOut;

  Round(int r, int nranks, size_t c) : rank(r), n(nranks), count(c) {
    for (size_t i = 0; i < count; ++i) {
      sumIn.push_back(static_cast<float>(value(rank, i)));
      maxIn.push_back(value(rank, i));
      avgIn.push_back(value(rank, i));
      bcast.push_back(rank == n - 1 ? value(rank, i) : -99);
      agIn.push_back(value(rank, i));
      ringSend.push_back(value(rank, i + 3));
    }
    for (size_t j = 0; j < count * n; ++j) {
      rsIn.push_back(static_cast<float>(value(rank, j)));
      a2aIn.push_back(value(rank, j));
    }
    sumOut.assign(count, -1);
    reduceOut.assign(count, -1);
    maxOut.assign(count, -1);
    avgOut.assign(count, -1);
    rsOut.assign(count, -1);
    ringRecv.assign(count, -1);
    agOut.assign(count * n, -1);
    a2aOut.assign(count * n, -1);
  }

  std::vector<Work> issue(Comm& comm) {
    std::vector<Work> works;
    works.push_back(comm.allReduce(sumIn.data(), sumOut.data(), count, ncclFloat32, ncclSum));
    works.push_back(
        comm.allReduce(maxIn.data(), maxOut.data(), count, ncclInt32, ncclMax, Priority::High));
    works.push_back(comm.allReduce(avgIn.data(), avgOut.data(), count, ncclFloat64, ncclAvg));
    works.push_back(comm.broadcast(bcast.data(), bcast.data(), count, ncclInt32, n - 1));
    works.push_back(comm.reduce(sumIn.data(), reduceOut.data(), count, ncclFloat32, ncclSum, 0));
    works.push_back(comm.allGather(agIn.data(), agOut.data(), count, ncclInt32));
    works.push_back(comm.reduceScatter(rsIn.data(), rsOut.data(), count, ncclFloat32, ncclSum));
    works.push_back(comm.allToAll(a2aIn.data(), a2aOut.data(), count, ncclInt32));
    PeerOp ring[2] = {{PeerOp::Kind::Send, (rank + 1) % n, ringSend.data(), count, ncclInt32},
                      {PeerOp::Kind::Recv, (rank + n - 1) % n, ringRecv.data(), count, ncclInt32}};
    works.push_back(comm.batch(ring));
    return works;
  }

  /// The first mismatch, or empty.
  std::string check() const {
    auto where = [&](const char* what, size_t i) {
      return std::string(what) + " count " + std::to_string(count) + " element " +
             std::to_string(i);
    };
    for (size_t i = 0; i < count; ++i) {
      int sum = 0, max = INT32_MIN;
      for (int r = 0; r < n; ++r) {
        sum += value(r, i);
        max = std::max(max, value(r, i));
      }
      if (sumOut[i] != static_cast<float>(sum)) return where("allReduce sum", i);
      if (maxOut[i] != max) return where("allReduce max", i);
      if (avgOut[i] != static_cast<double>(sum) / n) return where("allReduce avg", i);
      if (bcast[i] != value(n - 1, i)) return where("broadcast", i);
      if (rank == 0 && reduceOut[i] != static_cast<float>(sum)) return where("reduce", i);
      if (rank != 0 && reduceOut[i] != -1) return where("reduce wrote a non-root", i);
      int rs = 0;
      for (int r = 0; r < n; ++r) rs += value(r, rank * count + i);
      if (rsOut[i] != static_cast<float>(rs)) return where("reduceScatter", i);
      if (ringRecv[i] != value((rank + n - 1) % n, i + 3)) return where("batch ring", i);
      for (int r = 0; r < n; ++r) {
        if (agOut[r * count + i] != value(r, i)) return where("allGather", r * count + i);
        if (a2aOut[r * count + i] != value(r, rank * count + i))
          return where("allToAll", r * count + i);
      }
    }
    return {};
  }
};

void everyCollective(RankContext& ctx) {
  Comm comm = join(ctx);
  ctx.require(comm.rank() == ctx.rank && comm.size() == ctx.nranks, "rank/size");
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{4099}, size_t{100003}}) {
    Round round(ctx.rank, ctx.nranks, count);
    std::vector<Work> works = round.issue(comm);
    // Operations of one communicator complete in issue order: once the last is done,
    // every earlier one is.
    ctx.require(works.back().wait(60s), "last operation did not complete");
    for (const Work& w : works) ctx.require(w.test(), "an earlier operation is not complete");
    ctx.require(works[0].bytes() == count * sizeof(float), "allReduce bytes");
    ctx.require(works[5].bytes() == count * ctx.nranks * sizeof(int32_t), "allGather bytes");
    ctx.require(works[0].endTime() >= works[0].startTime(), "timestamps");
    std::string bad = round.check();
    ctx.require(bad.empty(), bad);
  }
  comm.synchronize();
}

TEST(NativeApi, EveryCollectiveOneRank) { runRanks(1, Mode::Threads, everyCollective, noComm()); }
TEST(NativeApi, EveryCollectiveTwoRanks) { runRanks(2, Mode::Threads, everyCollective, noComm()); }
TEST(NativeApi, EveryCollectiveThreeRanks) {
  runRanks(3, Mode::Threads, everyCollective, noComm());
}
TEST(NativeApi, EveryCollectiveFiveRanks) { runRanks(5, Mode::Threads, everyCollective, noComm()); }

TEST(NativeApi, RanksAsProcesses) {
  runRanks(
      3, Mode::Processes,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        Round round(ctx.rank, ctx.nranks, 4099);
        std::vector<Work> works = round.issue(comm);
        comm.synchronize();
        std::string bad = round.check();
        ctx.require(bad.empty(), bad);
      },
      noComm());
}

TEST(NativeApi, ManyInFlightCompleteInOrder) {
  runRanks(
      3, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        constexpr int kOps = 16;
        std::vector<std::vector<int32_t>> bufs(kOps, std::vector<int32_t>(1000));
        std::vector<Work> works;
        for (int k = 0; k < kOps; ++k) {
          for (size_t i = 0; i < 1000; ++i) bufs[k][i] = k + ctx.rank + static_cast<int>(i);
          works.push_back(comm.allReduce(bufs[k].data(), bufs[k].data(), 1000, ncclInt32, ncclSum));
        }
        // Whenever an operation is seen complete, every earlier one is too.
        for (int k = kOps - 1; k >= 0; --k) {
          ctx.require(works[k].wait(60s), "operation did not complete");
          for (int e = 0; e < k; ++e) ctx.require(works[e].test(), "completed out of order");
        }
        for (int k = 0; k < kOps; ++k)
          for (size_t i = 0; i < 1000; ++i)
            ctx.require(bufs[k][i] == 3 * (k + static_cast<int>(i)) + 3, "wrong sum");
      },
      noComm());
}

TEST(NativeApi, TwoCommsOppositeOrderDoNotDeadlock) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm a = join(ctx);
        Comm b = a.split(0, ctx.rank);
        std::vector<float> x(5000, 1.0f + ctx.rank), y(5000, 10.0f * (ctx.rank + 1));
        Work wx, wy;
        if (ctx.rank == 0) {
          wx = a.allReduce(x.data(), x.data(), x.size(), ncclFloat32, ncclSum);
          wy = b.allReduce(y.data(), y.data(), y.size(), ncclFloat32, ncclSum);
        } else {
          wy = b.allReduce(y.data(), y.data(), y.size(), ncclFloat32, ncclSum);
          wx = a.allReduce(x.data(), x.data(), x.size(), ncclFloat32, ncclSum);
        }
        ctx.require(wx.wait(60s) && wy.wait(60s), "did not complete");
        ctx.require(x[4999] == 3.0f && y[0] == 30.0f, "wrong sums");
      },
      noComm());
}

TEST(NativeApi, TestAndTimedWaitBeforePeerIssues) {
  std::atomic<bool> checked{false};
  runRanks(
      2, Mode::Threads,
      [&](RankContext& ctx) {
        Comm comm = join(ctx);
        std::vector<int32_t> v(100, ctx.rank + 1);
        if (ctx.rank == 1) {
          // Withholds the call until rank 0 has looked at its unfinished Work.
          auto deadline = std::chrono::steady_clock::now() + 30s;
          while (!checked.load() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
          ctx.require(checked.load(), "rank 0 never checked");
        }
        Work w = comm.allReduce(v.data(), v.data(), v.size(), ncclInt32, ncclSum);
        if (ctx.rank == 0) {
          bool early = w.test();
          bool timed = w.wait(50ms);
          checked.store(true);
          ctx.require(!early, "test() true before the peer issued");
          ctx.require(!timed, "wait(50ms) true before the peer issued");
        }
        ctx.require(w.wait(60s), "wait false after the peer issued");
        ctx.require(v[0] == 3 && v[99] == 3, "wrong sum");
      },
      noComm());
}

TEST(NativeApi, SendRecvSinglesAndEmptyBatch) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        std::vector<double> buf(3000, ctx.rank == 0 ? 2.5 : 0.0);
        Work w = ctx.rank == 0 ? comm.send(buf.data(), buf.size(), ncclFloat64, 1)
                               : comm.recv(buf.data(), buf.size(), ncclFloat64, 0);
        ctx.require(w.wait(60s), "p2p did not complete");
        ctx.require(buf[2999] == 2.5, "wrong payload");
        ctx.require(w.bytes() == 3000 * sizeof(double), "bytes");
        ctx.require(comm.batch({}).wait(60s), "empty batch");
        // Host work: waitOn waits on the host.
        std::vector<double> again(10, ctx.rank == 0 ? 4.0 : 0.0);
        Work w2 = ctx.rank == 0 ? comm.send(again.data(), again.size(), ncclFloat64, 1)
                                : comm.recv(again.data(), again.size(), ncclFloat64, 0);
        w2.waitOn(nullptr);
        ctx.require(w2.test() && again[9] == 4.0, "waitOn(host work)");
      },
      noComm());
}

TEST(NativeApi, DefaultWorkIsComplete) {
  Work w;
  EXPECT_TRUE(w.test());
  EXPECT_TRUE(w.wait(0ms));
  EXPECT_EQ(w.bytes(), 0u);
  EXPECT_LE(w.startTime(), w.endTime());
}

TEST(NativeApi, BadArgumentsThrowAtOnce) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        float x = 0;
        auto code = [&](auto&& call) {
          try {
            call();
          } catch (const CommError& e) {
            return e.code();
          }
          return ncclSuccess;
        };
        auto nullBuffer = [&] { comm.allReduce(nullptr, &x, 4, ncclFloat32, ncclSum); };
        auto badRoot = [&] { comm.broadcast(&x, &x, 1, ncclFloat32, 2); };
        auto badType = [&] { comm.allGather(&x, &x, 1, static_cast<ncclDataType_t>(99)); };
        auto badPeer = [&] { comm.send(&x, 1, ncclFloat32, -1); };
        auto badOp = [&] { comm.allReduce(&x, &x, 1, ncclFloat32, static_cast<ncclRedOp_t>(77)); };
        ctx.require(code(nullBuffer) == ncclInvalidArgument, "null buffer");
        ctx.require(code(badRoot) == ncclInvalidArgument, "bad root");
        ctx.require(code(badType) == ncclInvalidArgument, "bad type");
        ctx.require(code(badPeer) == ncclInvalidArgument, "bad peer");
        ctx.require(code(badOp) == ncclInvalidArgument, "bad op");
        // Nothing was issued, so the communicator still works.
        x = 1;
        ctx.require(comm.allReduce(&x, &x, 1, ncclFloat32, ncclSum).wait(60s) && x == 2, "after");
        Comm empty;
        ctx.require(code([&] { empty.synchronize(); }) == ncclInvalidUsage, "empty comm");
      },
      noComm());
}

TEST(NativeApi, PeerThatNeverIssuesTimesOut) {
  testing::ScopedEnv timeout("PRISM_TIMEOUT_S", "2");
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        if (ctx.rank == 0) {
          std::vector<float> v(1000, 1.0f);
          Work w = comm.allReduce(v.data(), v.data(), v.size(), ncclFloat32, ncclSum);
          Work later = comm.allReduce(v.data(), v.data(), v.size(), ncclFloat32, ncclSum);
          std::string message;
          try {
            w.wait(30s);
          } catch (const CommError& e) {
            message = e.what();
          }
          ctx.require(message.find("rank 1") != std::string::npos,
                      "expected a timeout naming rank 1, got '" + message + "'");
          bool laterFailed = false;
          try {
            later.wait(30s);
          } catch (const CommError&) {
            laterFailed = true;
          }
          ctx.require(laterFailed, "the queued operation after the failure did not fail");
        }
        ctx.barrier();
      },
      noComm());
}

TEST(NativeApi, AbortFailsQueuedOperations) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm comm = join(ctx);
        if (ctx.rank == 0) {
          // Rank 1 never issues; abort ends the wait long before any timeout.
          std::vector<float> v(1000, 1.0f);
          Work a = comm.allReduce(v.data(), v.data(), v.size(), ncclFloat32, ncclSum);
          Work b = comm.allReduce(v.data(), v.data(), v.size(), ncclFloat32, ncclSum);
          ctx.require(!a.wait(20ms), "completed without the peer");
          comm.abort();
          for (Work* w : {&a, &b}) {
            bool failed = false;
            try {
              w->wait(30s);
            } catch (const CommError& e) {
              failed = std::string(e.what()).find("aborted") != std::string::npos;
            }
            ctx.require(failed, "operation did not fail with the abort");
          }
          float x = 0;
          bool thrown = false;
          try {
            comm.allReduce(&x, &x, 1, ncclFloat32, ncclSum);
          } catch (const CommError&) {
            thrown = true;
          }
          ctx.require(thrown, "a call after abort did not throw");
        }
        ctx.barrier();
      },
      noComm());
}

TEST(DeviceMesh, EightRanksDp2Tp2Pp2) {
  runRanks(
      8, Mode::Threads,
      [](RankContext& ctx) {
        Comm world = join(ctx);
        DeviceMesh mesh(world, {.dp = 2, .tp = 2, .pp = 2});
        const int r = ctx.rank;
        const int t = r % 2, d = (r / 2) % 2, p = r / 4;
        ctx.require(mesh.tpRank() == t && mesh.dpRank() == d && mesh.ppRank() == p, "coords");
        ctx.require(mesh.tp().size() == 2 && mesh.dp().size() == 2 && mesh.pp().size() == 2 &&
                        mesh.cp().size() == 1 && mesh.ep().size() == 1,
                    "sizes");
        ctx.require(mesh.tp().rank() == t && mesh.dp().rank() == d && mesh.pp().rank() == p,
                    "sub-communicator ranks");
        // Sum of world ranks over each group identifies its members.
        auto groupSum = [&](Comm& c) {
          int32_t v = r;
          c.allReduce(&v, &v, 1, ncclInt32, ncclSum).wait();
          return v;
        };
        ctx.require(groupSum(mesh.tp()) == 2 * (r - t) + 1, "tp members");
        ctx.require(groupSum(mesh.dp()) == 2 * (r - 2 * d) + 2, "dp members");
        ctx.require(groupSum(mesh.pp()) == 2 * (r - 4 * p) + 4, "pp members");
      },
      noComm());
}

TEST(DeviceMesh, BadDegreesThrow) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        Comm world = join(ctx);
        auto message = [&](MeshShape shape) {
          try {
            DeviceMesh mesh(world, shape);
          } catch (const CommError& e) {
            return e.code() == ncclInvalidArgument ? std::string(e.what()) : "wrong code";
          }
          return std::string("no error");
        };
        std::string product = message({.dp = 3});
        ctx.require(product == "mesh dp*tp*pp*cp = 3 does not equal world size 2", product);
        std::string ep = message({.dp = 2, .ep = 3});
        ctx.require(ep == "mesh ep = 3 does not divide dp = 2", ep);
        ctx.require(message({.tp = 0}).find("below 1") != std::string::npos, "zero degree");
        DeviceMesh ok(world, {.dp = 2, .ep = 2});
        ctx.require(ok.ep().size() == 2 && ok.epRank() == ctx.rank, "ep group");
      },
      noComm());
}

}  // namespace
}  // namespace prism
