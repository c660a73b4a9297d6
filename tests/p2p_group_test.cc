// Point-to-point and group semantics through the public API: sends and receives in a group
// never deadlock whatever order each rank posts them, messages to one peer match in
// order, groups nest, collectives and p2p mix in one group, and a fused group of
// collectives gives the same results as separate calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "nccl.h"
#include "tests/harness/rank_runner.h"

namespace prism::test {
namespace {

// Value of element i of the message from `src` to `dst`, tagged with a message number.
int32_t messageValue(int src, int dst, int message, size_t i) {
  return static_cast<int32_t>((src * 1000003 + dst * 7919 + message * 104729) ^ (i * 2654435761u));
}

void fillMessage(std::vector<int32_t>& buf, int src, int dst, int message) {
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = messageValue(src, dst, message, i);
}

// "" if buf holds the message, else the first bad element.
std::string checkMessage(const std::vector<int32_t>& buf, size_t count, int src, int dst,
                         int message) {
  for (size_t i = 0; i < count; ++i) {
    if (buf[i] != messageValue(src, dst, message, i)) {
      return "message " + std::to_string(message) + " from rank " + std::to_string(src) +
             " to rank " + std::to_string(dst) + ": element " + std::to_string(i) + " is " +
             std::to_string(buf[i]) + ", expected " +
             std::to_string(messageValue(src, dst, message, i));
    }
  }
  return "";
}

std::string ranksName(const ::testing::TestParamInfo<int>& info) {
  return "n" + std::to_string(info.param);
}

class AllPairs : public ::testing::TestWithParam<int> {};

// Every rank sends to and receives from every rank (itself included) in one group, posting
// its operations in its own random order. Sizes span small messages and ones far larger
// than any staging buffer, so a library that needs a matching order would deadlock.
void allPairsInRandomOrder(RankContext& ctx) {
  const int n = ctx.nranks;
  std::mt19937 rng(1234 + ctx.rank);
  for (size_t base : {size_t{1}, size_t{1000}, size_t{300000}}) {
    for (int iteration = 0; iteration < 3; ++iteration) {
      auto countFor = [&](int src, int dst) { return base + 13 * src + 7 * dst; };
      std::vector<std::vector<int32_t>> out(n), in(n);
      for (int p = 0; p < n; ++p) {
        out[p].resize(countFor(ctx.rank, p));
        fillMessage(out[p], ctx.rank, p, iteration);
        in[p].assign(countFor(p, ctx.rank), -1);
      }
      std::vector<int> order(2 * n);  // 0..n-1: send to p, n..2n-1: receive from p-n
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
      for (int op : order) {
        if (op < n) {
          ctx.requireOk(ncclSend(out[op].data(), out[op].size(), ncclInt32, op, ctx.comm, nullptr),
                        "ncclSend to " + std::to_string(op));
        } else {
          const int p = op - n;
          ctx.requireOk(ncclRecv(in[p].data(), in[p].size(), ncclInt32, p, ctx.comm, nullptr),
                        "ncclRecv from " + std::to_string(p));
        }
      }
      ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd of the all-pairs group");
      for (int p = 0; p < n; ++p) {
        const std::string bad = checkMessage(in[p], in[p].size(), p, ctx.rank, iteration);
        ctx.expect(bad.empty(), "count base " + std::to_string(base) + ": " + bad);
      }
    }
  }
}

TEST_P(AllPairs, RandomPostingOrderInOneGroup) {
  runRanks(GetParam(), Mode::Threads, allPairsInRandomOrder);
}

TEST(AllPairsProcesses, RandomPostingOrderInOneGroup) {
  runRanks(3, Mode::Processes, allPairsInRandomOrder);
}

INSTANTIATE_TEST_SUITE_P(Ranks, AllPairs, ::testing::Values(2, 3, 5, 8), ranksName);

TEST(PointToPoint, SendToSelf) {
  runRanks(2, Mode::Threads, [](RankContext& ctx) {
    for (bool recvFirst : {false, true}) {
      std::vector<int32_t> out(5000), in(5000, -1);
      fillMessage(out, ctx.rank, ctx.rank, recvFirst);
      ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
      if (recvFirst) {
        ctx.requireOk(ncclRecv(in.data(), in.size(), ncclInt32, ctx.rank, ctx.comm, nullptr),
                      "ncclRecv from self");
      }
      ctx.requireOk(ncclSend(out.data(), out.size(), ncclInt32, ctx.rank, ctx.comm, nullptr),
                    "ncclSend to self");
      if (!recvFirst) {
        ctx.requireOk(ncclRecv(in.data(), in.size(), ncclInt32, ctx.rank, ctx.comm, nullptr),
                      "ncclRecv from self");
      }
      ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
      const std::string bad = checkMessage(in, in.size(), ctx.rank, ctx.rank, recvFirst);
      ctx.expect(bad.empty(), bad);
    }
  });
}

// Several messages to the same peer in one group are matched in the order posted, and so
// are messages in consecutive groups.
TEST(PointToPoint, MessagesToOnePeerMatchInOrder) {
  runRanks(3, Mode::Threads, [](RankContext& ctx) {
    const int n = ctx.nranks;
    const int next = (ctx.rank + 1) % n;
    const int prev = (ctx.rank + n - 1) % n;
    constexpr int kMessages = 5;
    const size_t sizes[kMessages] = {10, 200000, 1, 4099, 77};
    std::vector<std::vector<int32_t>> out(kMessages), in(kMessages);
    for (int m = 0; m < kMessages; ++m) {
      out[m].resize(sizes[m]);
      fillMessage(out[m], ctx.rank, next, m);
      in[m].assign(sizes[m], -1);
    }
    ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
    for (int m = 0; m < kMessages; ++m) {
      ctx.requireOk(ncclRecv(in[m].data(), sizes[m], ncclInt32, prev, ctx.comm, nullptr),
                    "ncclRecv #" + std::to_string(m));
    }
    for (int m = 0; m < kMessages; ++m) {
      ctx.requireOk(ncclSend(out[m].data(), sizes[m], ncclInt32, next, ctx.comm, nullptr),
                    "ncclSend #" + std::to_string(m));
    }
    ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
    for (int m = 0; m < kMessages; ++m) {
      const std::string bad = checkMessage(in[m], sizes[m], prev, ctx.rank, m);
      ctx.expect(bad.empty(), bad);
    }
    // Outside a group, pairwise: even ranks send first, odd ranks receive first.
    if (n % 2 == 1 && ctx.rank == n - 1) return;
    const int partner = ctx.rank ^ 1;
    std::vector<int32_t> a(3000), b(3000, -1);
    fillMessage(a, ctx.rank, partner, 9);
    for (int round = 0; round < 2; ++round) {
      std::fill(b.begin(), b.end(), -1);
      if (ctx.rank % 2 == 0) {
        ctx.requireOk(ncclSend(a.data(), a.size(), ncclInt32, partner, ctx.comm, nullptr), "send");
        ctx.requireOk(ncclRecv(b.data(), b.size(), ncclInt32, partner, ctx.comm, nullptr), "recv");
      } else {
        ctx.requireOk(ncclRecv(b.data(), b.size(), ncclInt32, partner, ctx.comm, nullptr), "recv");
        ctx.requireOk(ncclSend(a.data(), a.size(), ncclInt32, partner, ctx.comm, nullptr), "send");
      }
      const std::string bad = checkMessage(b, b.size(), partner, ctx.rank, 9);
      ctx.expect(bad.empty(), "ungrouped send/recv: " + bad);
    }
  });
}

TEST(PointToPoint, CountZero) {
  runRanks(2, Mode::Threads, [](RankContext& ctx) {
    const int peer = 1 - ctx.rank;
    std::vector<int32_t> buf(4, 7);
    ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
    ctx.requireOk(ncclSend(buf.data(), 0, ncclInt32, peer, ctx.comm, nullptr), "ncclSend count 0");
    ctx.requireOk(ncclRecv(buf.data(), 0, ncclInt32, peer, ctx.comm, nullptr), "ncclRecv count 0");
    ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
    ctx.expect(buf[0] == 7 && buf[3] == 7, "a count-0 receive wrote to its buffer");
    ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
    ctx.requireOk(ncclSend(nullptr, 0, ncclFloat32, peer, ctx.comm, nullptr),
                  "ncclSend count 0, null buffer");
    ctx.requireOk(ncclRecv(nullptr, 0, ncclFloat32, peer, ctx.comm, nullptr),
                  "ncclRecv count 0, null buffer");
    ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
    // Count 0 outside a group, then real traffic still works.
    ctx.requireOk(ncclAllReduce(nullptr, nullptr, 0, ncclFloat32, ncclSum, ctx.comm, nullptr),
                  "ncclAllReduce count 0, null buffers");
    int32_t v = ctx.rank + 1, sum = 0;
    ctx.requireOk(ncclAllReduce(&v, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr),
                  "ncclAllReduce after count-0 operations");
    ctx.expect(sum == 3, "allreduce after count 0 gave " + std::to_string(sum));
  });
}

// Inner ncclGroupEnd does not launch anything; the outermost one completes all.
TEST(Groups, NestedGroups) {
  runRanks(3, Mode::Threads, [](RankContext& ctx) {
    const int n = ctx.nranks;
    const int next = (ctx.rank + 1) % n;
    const int prev = (ctx.rank + n - 1) % n;
    std::vector<int32_t> out(50000), in(50000, -1);
    fillMessage(out, ctx.rank, next, 3);
    int32_t v = ctx.rank + 1, sum = -1;
    ctx.requireOk(ncclGroupStart(), "outer ncclGroupStart");
    ctx.requireOk(ncclGroupStart(), "inner ncclGroupStart");
    // A blocking send outside any group would wait for the receive below; nested groups
    // must defer it to the outermost end.
    ctx.requireOk(ncclSend(out.data(), out.size(), ncclInt32, next, ctx.comm, nullptr), "send");
    ctx.requireOk(ncclGroupStart(), "innermost ncclGroupStart");
    ctx.requireOk(ncclAllReduce(&v, &sum, 1, ncclInt32, ncclSum, ctx.comm, nullptr), "allreduce");
    ctx.requireOk(ncclGroupEnd(), "innermost ncclGroupEnd");
    ctx.requireOk(ncclGroupEnd(), "inner ncclGroupEnd");
    ctx.requireOk(ncclRecv(in.data(), in.size(), ncclInt32, prev, ctx.comm, nullptr), "recv");
    ctx.requireOk(ncclGroupEnd(), "outer ncclGroupEnd");
    const std::string bad = checkMessage(in, in.size(), prev, ctx.rank, 3);
    ctx.expect(bad.empty(), bad);
    ctx.expect(sum == 6, "allreduce in a nested group gave " + std::to_string(sum));
  });
}

// One group holding collectives and a ring of sends/receives.
TEST(Groups, CollectivesAndPointToPointMixed) {
  runRanks(5, Mode::Threads, [](RankContext& ctx) {
    const int n = ctx.nranks;
    const int next = (ctx.rank + 1) % n;
    const int prev = (ctx.rank + n - 1) % n;
    std::vector<float> x(10000, static_cast<float>(ctx.rank + 1)), sum(10000, -1);
    std::vector<int32_t> out(20000), in(20000, -1);
    fillMessage(out, ctx.rank, next, 1);
    std::vector<int64_t> mine(3, ctx.rank), gathered(3 * n, -1);
    ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
    ctx.requireOk(ncclRecv(in.data(), in.size(), ncclInt32, prev, ctx.comm, nullptr), "recv");
    ctx.requireOk(
        ncclAllReduce(x.data(), sum.data(), x.size(), ncclFloat32, ncclSum, ctx.comm, nullptr),
        "allreduce");
    ctx.requireOk(ncclSend(out.data(), out.size(), ncclInt32, next, ctx.comm, nullptr), "send");
    ctx.requireOk(ncclAllGather(mine.data(), gathered.data(), 3, ncclInt64, ctx.comm, nullptr),
                  "allgather");
    ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
    const std::string bad = checkMessage(in, in.size(), prev, ctx.rank, 1);
    ctx.expect(bad.empty(), bad);
    ctx.expect(sum.front() == 15.0f && sum.back() == 15.0f,
               "allreduce in a mixed group gave " + std::to_string(sum.front()));
    for (int q = 0; q < n; ++q) {
      ctx.expect(gathered[3 * q + 2] == q, "allgather block " + std::to_string(q) + " holds " +
                                               std::to_string(gathered[3 * q + 2]));
    }
  });
}

// A group of several collectives on one communicator (fused into one plan) must produce
// exactly what the same calls produce one at a time.
TEST(Groups, FusedCollectivesMatchSeparateCalls) {
  runRanks(3, Mode::Threads, [](RankContext& ctx) {
    const int n = ctx.nranks;
    const size_t big = 100003;
    auto run = [&](bool grouped) {
      std::vector<std::vector<unsigned char>> results;
      std::vector<float> a(big);
      std::vector<int32_t> b(777);
      std::vector<double> c(n * 5000);
      std::vector<uint8_t> d(4099);
      for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i + ctx.rank) % 5) - 2;
      for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<int32_t>(i * 31 + ctx.rank * 7);
      for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<double>(i % 9) * (ctx.rank + 1);
      for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i + ctx.rank);
      std::vector<float> ra(big, -1);
      std::vector<int32_t> rb(777, -1);
      std::vector<double> rc(5000, -1);
      std::vector<uint8_t> rd(4099 * n, 0);
      std::vector<float> inplace = a;
      std::vector<int32_t> bcast = b;  // in-place targets are copies: no buffer is shared
      if (grouped) ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
      ctx.requireOk(
          ncclAllReduce(a.data(), ra.data(), big, ncclFloat32, ncclSum, ctx.comm, nullptr),
          "allreduce sum");
      ctx.requireOk(ncclAllReduce(b.data(), rb.data(), 777, ncclInt32, ncclMax, ctx.comm, nullptr),
                    "allreduce max");
      ctx.requireOk(
          ncclReduceScatter(c.data(), rc.data(), 5000, ncclFloat64, ncclSum, ctx.comm, nullptr),
          "reducescatter");
      ctx.requireOk(ncclAllGather(d.data(), rd.data(), 4099, ncclUint8, ctx.comm, nullptr),
                    "allgather");
      ctx.requireOk(ncclAllReduce(inplace.data(), inplace.data(), big, ncclFloat32, ncclMin,
                                  ctx.comm, nullptr),
                    "allreduce min in place");
      ctx.requireOk(
          ncclBroadcast(bcast.data(), bcast.data(), 777, ncclInt32, n - 1, ctx.comm, nullptr),
          "broadcast in place");
      if (grouped) ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
      auto bytes = [](const auto& v) {
        const auto* p = reinterpret_cast<const unsigned char*>(v.data());
        return std::vector<unsigned char>(p, p + v.size() * sizeof(v[0]));
      };
      return std::vector<std::vector<unsigned char>>{bytes(ra), bytes(rb),      bytes(rc),
                                                     bytes(rd), bytes(inplace), bytes(bcast)};
    };
    const auto separate = run(false);
    const auto fused = run(true);
    const char* names[] = {"allreduce sum", "allreduce max",          "reducescatter",
                           "allgather",     "allreduce min in place", "broadcast in place"};
    for (size_t k = 0; k < separate.size(); ++k) {
      ctx.expect(separate[k] == fused[k],
                 std::string(names[k]) + ": the grouped result differs from the separate one");
    }
    // And the separate results are right.
    float sum0;
    std::memcpy(&sum0, separate[0].data(), 4);
    ctx.expect(sum0 == -2 - 1 + 0, "allreduce sum element 0 is " + std::to_string(sum0));
    int32_t max5;
    std::memcpy(&max5, separate[1].data() + 5 * 4, 4);
    ctx.expect(max5 == 5 * 31 + (n - 1) * 7, "allreduce max element 5 is " + std::to_string(max5));
  });
}

// ncclCommInitAll in one thread, then that thread drives every communicator in groups.
TEST(Groups, OneThreadDrivesInitAllCommunicators) {
  for (int n : {1, 2, 4}) {
    std::vector<ncclComm_t> comms(n, nullptr);
    ASSERT_EQ(ncclCommInitAll(comms.data(), n, nullptr), ncclSuccess) << ncclGetLastError(nullptr);
    for (int r = 0; r < n; ++r) {
      int rank = -1, count = -1;
      ASSERT_NE(comms[r], nullptr);
      EXPECT_EQ(ncclCommUserRank(comms[r], &rank), ncclSuccess);
      EXPECT_EQ(ncclCommCount(comms[r], &count), ncclSuccess);
      EXPECT_EQ(rank, r);
      EXPECT_EQ(count, n);
    }
    std::vector<std::vector<double>> in(n), out(n);
    std::vector<std::vector<int32_t>> gathered(n, std::vector<int32_t>(2 * n, -1));
    std::vector<int32_t> mine(2 * n);
    std::vector<std::vector<int32_t>> ring(n, std::vector<int32_t>(1000, -1));
    std::vector<std::vector<int32_t>> ringOut(n, std::vector<int32_t>(1000));
    for (int r = 0; r < n; ++r) {
      in[r].assign(20000, r + 0.5);
      out[r].assign(20000, -1);
      mine[2 * r] = mine[2 * r + 1] = r * 10;
      fillMessage(ringOut[r], r, (r + 1) % n, 0);
    }
    ASSERT_EQ(ncclGroupStart(), ncclSuccess);
    for (int r = 0; r < n; ++r) {
      ASSERT_EQ(ncclAllReduce(in[r].data(), out[r].data(), 20000, ncclFloat64, ncclSum, comms[r],
                              nullptr),
                ncclSuccess);
      ASSERT_EQ(ncclAllGather(&mine[2 * r], gathered[r].data(), 2, ncclInt32, comms[r], nullptr),
                ncclSuccess);
      ASSERT_EQ(ncclSend(ringOut[r].data(), 1000, ncclInt32, (r + 1) % n, comms[r], nullptr),
                ncclSuccess);
      ASSERT_EQ(ncclRecv(ring[r].data(), 1000, ncclInt32, (r + n - 1) % n, comms[r], nullptr),
                ncclSuccess);
    }
    ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
    const double want = n * n / 2.0;  // sum of r + 0.5
    for (int r = 0; r < n; ++r) {
      EXPECT_EQ(out[r][0], want) << "rank " << r << " of " << n;
      EXPECT_EQ(out[r][19999], want) << "rank " << r << " of " << n;
      EXPECT_EQ(gathered[r], mine) << "rank " << r << " of " << n;
      EXPECT_EQ(checkMessage(ring[r], 1000, (r + n - 1) % n, r, 0), "") << "n=" << n;
    }
    for (ncclComm_t c : comms) EXPECT_EQ(ncclCommDestroy(c), ncclSuccess);
  }
}

}  // namespace
}  // namespace prism::test
