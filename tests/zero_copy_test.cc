// Zero-copy between registered buffers over UCX: with send and receive buffers registered
// by ncclCommRegister (or ncclCommWindowRegister), point-to-point messages and the
// data-moving collectives reach the peer without passing through a slot, which
// prismCommStagedBytes proves by staying where it was; the same calls on unregistered
// buffers stage every byte, which proves the counter counts. Every result is checked
// against values computed here, under UCX's tcp and shared-memory transports.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nccl.h"
#include "prism/prism.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"
#include "transports/ucx/ucx_transport.h"

namespace prism {
namespace {

using prism::testing::ScopedEnv;
using test::Mode;
using test::RankContext;
using test::RunOptions;

// Elements per rank: several slots' worth, and not a multiple of any slot.
constexpr size_t kCount = 300007;

/// The value rank `r` sends as element `i` (to peer `to` where that matters).
int32_t value(int r, size_t i, int to = 0) {
  return static_cast<int32_t>((r + 1) * 1000003 + i * 7 + to * 13);
}

uint64_t staged(RankContext& ctx) {
  uint64_t bytes = 0;
  ctx.requireOk(prismCommStagedBytes(ctx.comm, &bytes), "prismCommStagedBytes");
  return bytes;
}

/// Runs every data-moving call once on `send`/`recv` and checks each result.
void moveData(RankContext& ctx, std::vector<int32_t>& send, std::vector<int32_t>& recv) {
  const int n = ctx.nranks;
  const int me = ctx.rank;
  const size_t count = kCount;

  // Point to point: a ring, each rank sending to the next and receiving from the previous.
  for (size_t i = 0; i < count; ++i) send[i] = value(me, i);
  const int next = (me + 1) % n;
  const int prev = (me + n - 1) % n;
  ctx.requireOk(ncclGroupStart(), "ncclGroupStart");
  ctx.requireOk(ncclSend(send.data(), count, ncclInt32, next, ctx.comm, nullptr), "ncclSend");
  ctx.requireOk(ncclRecv(recv.data(), count, ncclInt32, prev, ctx.comm, nullptr), "ncclRecv");
  ctx.requireOk(ncclGroupEnd(), "ncclGroupEnd");
  for (size_t i = 0; i < count; ++i) {
    ctx.require(recv[i] == value(prev, i), "sendrecv element " + std::to_string(i) + " wrong");
  }

  // AllGather: rank r's block lands at r * count.
  ctx.requireOk(ncclAllGather(send.data(), recv.data(), count, ncclInt32, ctx.comm, nullptr),
                "ncclAllGather");
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      ctx.require(recv[r * count + i] == value(r, i),
                  "allgather block " + std::to_string(r) + " element " + std::to_string(i));
    }
  }

  // AlltoAll: block `to` of rank r goes to rank `to`.
  for (int to = 0; to < n; ++to) {
    for (size_t i = 0; i < count; ++i) send[to * count + i] = value(me, i, to);
  }
  ctx.requireOk(ncclAlltoAll(send.data(), recv.data(), count, ncclInt32, ctx.comm, nullptr),
                "ncclAlltoAll");
  for (int from = 0; from < n; ++from) {
    for (size_t i = 0; i < count; ++i) {
      ctx.require(recv[from * count + i] == value(from, i, me),
                  "alltoall block " + std::to_string(from) + " element " + std::to_string(i));
    }
  }

  // Broadcast from the last rank, out of place.
  for (size_t i = 0; i < count; ++i) send[i] = value(me, i, 5);
  ctx.requireOk(ncclBroadcast(send.data(), recv.data(), count, ncclInt32, n - 1, ctx.comm, nullptr),
                "ncclBroadcast");
  for (size_t i = 0; i < count; ++i) {
    ctx.require(recv[i] == value(n - 1, i, 5), "broadcast element " + std::to_string(i));
  }
}

struct ZeroCopyCase {
  int ranks;
  const char* tls;
};

class ZeroCopy : public ::testing::TestWithParam<ZeroCopyCase> {};

TEST_P(ZeroCopy, RegisteredBuffersMoveWithoutStaging) {
  if (!ucxBuilt()) GTEST_SKIP() << "this build has no UCX transport (libucx-dev not found)";
  const ZeroCopyCase c = GetParam();
  ScopedEnv transport("PRISM_TRANSPORT", "ucx");
  ScopedEnv tls("UCX_TLS", c.tls);
  ScopedEnv devices("UCX_NET_DEVICES", "lo");
  RunOptions options;
  options.timeout = std::chrono::seconds(180);
  test::runRanks(
      c.ranks, Mode::Processes,
      [&](RankContext& ctx) {
        const size_t total = kCount * static_cast<size_t>(ctx.nranks);
        std::vector<int32_t> send(total), recv(total);

        // Unregistered: every byte goes through a slot.
        uint64_t before = staged(ctx);
        moveData(ctx, send, recv);
        const uint64_t stagedPlain = staged(ctx) - before;
        ctx.require(stagedPlain >= total * sizeof(int32_t),
                    "unregistered buffers staged only " + std::to_string(stagedPlain) + " bytes");

        // Registered, one buffer with each API: nothing goes through a slot.
        void* sendHandle = nullptr;
        ncclWindow_t recvWindow = nullptr;
        ctx.requireOk(ncclCommRegister(ctx.comm, send.data(), total * sizeof(int32_t), &sendHandle),
                      "ncclCommRegister");
        ctx.requireOk(ncclCommWindowRegister(ctx.comm, recv.data(), total * sizeof(int32_t),
                                             &recvWindow, NCCL_WIN_DEFAULT),
                      "ncclCommWindowRegister");
        before = staged(ctx);
        moveData(ctx, send, recv);
        const uint64_t stagedRegistered = staged(ctx) - before;
        ctx.require(stagedRegistered == 0, "registered buffers staged " +
                                               std::to_string(stagedRegistered) + " bytes (" +
                                               std::to_string(stagedPlain) + " unregistered)");

        // A reduction still gives exact sums; its incoming operands arrive in slots.
        for (size_t i = 0; i < kCount; ++i) send[i] = value(ctx.rank, i) % 4099;
        ctx.requireOk(
            ncclAllReduce(send.data(), recv.data(), kCount, ncclInt32, ncclSum, ctx.comm, nullptr),
            "ncclAllReduce");
        for (size_t i = 0; i < kCount; ++i) {
          int64_t sum = 0;
          for (int r = 0; r < ctx.nranks; ++r) sum += value(r, i) % 4099;
          ctx.require(recv[i] == static_cast<int32_t>(sum),
                      "allreduce element " + std::to_string(i));
        }
        ctx.requireOk(ncclCommWindowDeregister(ctx.comm, recvWindow), "ncclCommWindowDeregister");
        ctx.requireOk(ncclCommDeregister(ctx.comm, sendHandle), "ncclCommDeregister");

        // Deregistered: staged again, and still right.
        before = staged(ctx);
        moveData(ctx, send, recv);
        ctx.require(staged(ctx) - before >= total * sizeof(int32_t),
                    "deregistered buffers were not staged");
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(Ucx, ZeroCopy,
                         ::testing::Values(ZeroCopyCase{2, "tcp"}, ZeroCopyCase{3, "tcp"},
                                           ZeroCopyCase{2, "sm,self"}, ZeroCopyCase{3, "sm,self"}),
                         [](const auto& info) {
                           std::string tls = info.param.tls;
                           for (char& ch : tls) ch = ch == ',' ? '_' : ch;
                           return std::to_string(info.param.ranks) + "ranks_" + tls;
                         });

}  // namespace
}  // namespace prism
