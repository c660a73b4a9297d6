// Who drives a TCP link's sockets, and where received bytes land: the rank's waiting thread
// drives them and the I/O thread takes over when a call ends with bytes left to send; an
// async call progresses while the caller computes; the placement hint (PRISM_TCP_PLACEMENT)
// reads messages straight into the caller's buffer, at the right place and only while the
// call lasts.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/setup_channel.h"
#include "nccl.h"
#include "prism/comm.hpp"
#include "src/bootstrap/bootstrap.h"
#include "tests/harness/matrix.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/scoped_env.h"
#include "transports/tcp/tcp_transport.h"

namespace prism {
namespace {

using prism::testing::ScopedEnv;
using test::Coll;
using test::Mode;
using test::RankContext;
using test::RunOptions;
using Clock = std::chrono::steady_clock;

/// Byte `i` of message `m` from rank 0 to rank 1.
std::byte byteOf(uint64_t m, size_t i) {
  return static_cast<std::byte>((m * 7 + i * 13 + (i >> 8) + 29) & 0xff);
}

/// Two process ranks that build their own transports (no communicator).
RunOptions twoTransportRanks() {
  RunOptions options;
  options.initComm = false;
  options.timeout = std::chrono::seconds(60);
  return options;
}

/// Runs `body` on two process ranks, each with its setup channel and a TCP transport to the
/// other (one socket each way).
void runPair(size_t slotBytes, int slots, bool placement,
             const std::function<void(RankContext&, SetupChannel* setup, Transport* t)>& body) {
  test::runRanks(
      2, Mode::Processes,
      [&](RankContext& ctx) {
        auto setup = connectBootstrap(ctx.id, ctx.rank, ctx.nranks);
        TcpTransportOptions o;
        o.slotBytes = slotBytes;
        o.slotCount = slots;
        o.socketsPerPeer = 1;
        o.placement = placement;
        o.name = "pair-test";
        auto t = createTcpTransport(*setup, o, {ctx.rank != 0, ctx.rank != 1});
        body(ctx, setup.get(), t.get());
      },
      twoTransportRanks());
}

/// Rank 0 drives its link (progress), fills its ring while rank 1 reads nothing, so bytes
/// are still to send when its "call" ends; it then never calls progress() again. Every
/// message must still arrive: the I/O thread takes the link over at pauseProgress(CallEnd).
TEST(TcpProgress, BytesLeftToSendAtCallEndStillArrive) {
  constexpr size_t kSlot = 256 * 1024;
  runPair(kSlot, 4, false, [&](RankContext& ctx, SetupChannel* setup, Transport* t) {
    const int peer = 1 - ctx.rank;
    uint64_t sent = 0;
    if (ctx.rank == 0) {
      // Until the ring stays full: the kernel's buffers hold what they can, the rest
      // waits in the ring.
      for (int stuck = 0; stuck < 200;) {
        t->progress();
        std::span<std::byte> slot = t->sendTo(peer).acquire();
        if (slot.empty()) {
          ++stuck;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        for (size_t i = 0; i < kSlot; ++i) slot[i] = byteOf(sent, i);
        t->sendTo(peer).commit(kSlot, sent++);
        stuck = 0;
      }
      ctx.require(t->sendTo(peer).acquire().empty(), "the ring never filled");
      t->pauseProgress(ProgressPause::CallEnd);
    }
    uint64_t counts[2];
    setup->allGather(&sent, counts, sizeof(sent));
    if (ctx.rank == 0) {
      setup->barrier();  // rank 1 has everything; the test is over
      return;
    }
    sent = counts[0];
    ctx.require(sent > 4, "rank 0 sent too little to fill its ring");
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    for (uint64_t got = 0; got < sent;) {
      t->progress();
      std::span<const std::byte> msg = t->recvFrom(peer).peek();
      if (msg.empty()) {
        ctx.require(Clock::now() < deadline,
                    "message " + std::to_string(got) + " of " + std::to_string(sent) +
                        " never came: nobody sent what rank 0 left in its ring");
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      ctx.require(msg.size() == kSlot && t->recvFrom(peer).tag() == got,
                  "message " + std::to_string(got) + " out of order");
      for (size_t i = 0; i < kSlot; i += 4093) {
        ctx.require(msg[i] == byteOf(got, i), "message " + std::to_string(got) + " corrupt");
      }
      t->recvFrom(peer).release();
      ++got;
    }
    setup->barrier();
  });
}

/// The placement hint: messages of the hinted tag that arrive after it are read straight
/// into the caller's buffer, where they belong; one that arrived before stays in its slot,
/// as do other tags' messages and everything after the call ended.
TEST(TcpProgress, HintedMessagesAreReadStraightIntoPlace) {
  constexpr size_t kSlot = 64 * 1024;
  constexpr size_t kLast = 777;
  runPair(kSlot, 8, true, [&](RankContext& ctx, SetupChannel* setup, Transport* t) {
    const int peer = 1 - ctx.rank;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    // Message m: tag, size.
    const uint64_t tags[] = {7, 7, 7, 7, 8, 9};
    const size_t sizes[] = {kSlot, kSlot, kSlot, kLast, 50, 60};
    auto send = [&](uint64_t m) {
      std::span<std::byte> slot;
      while ((slot = t->sendTo(peer).acquire()).empty()) {
        t->progress();
        ctx.require(Clock::now() < deadline, "send timed out");
      }
      for (size_t i = 0; i < sizes[m]; ++i) slot[i] = byteOf(m, i);
      t->sendTo(peer).commit(sizes[m], tags[m]);
    };
    auto next = [&]() {
      std::span<const std::byte> msg;
      while ((msg = t->recvFrom(peer).peek()).empty()) {
        t->progress();
        ctx.require(Clock::now() < deadline, "receive timed out");
      }
      return msg;
    };
    if (ctx.rank == 0) {
      send(0);
      setup->barrier();  // rank 1 has message 0 and gave its hint
      for (uint64_t m = 1; m < 5; ++m) send(m);
      setup->barrier();  // rank 1 ended its call
      send(5);
      t->pauseProgress(ProgressPause::CallEnd);
      setup->barrier();
      return;
    }
    std::vector<std::byte> out(3 * kSlot + kLast);
    (void)next();   // message 0 arrived before the hint: it stays in its slot
    t->progress();  // hints come from the thread that drives the transport
    t->recvFrom(peer).receiveInto(out.data(), out.size(), 7);
    setup->barrier();
    size_t at = 0;
    for (uint64_t m = 0; m < 5; ++m) {
      std::span<const std::byte> msg = next();
      const bool inOut = msg.data() >= out.data() && msg.data() < out.data() + out.size();
      ctx.require(msg.size() == sizes[m] && t->recvFrom(peer).tag() == tags[m],
                  "message " + std::to_string(m) + " has the wrong size or tag");
      ctx.require(inOut == (m >= 1 && m <= 3),
                  "message " + std::to_string(m) +
                      (inOut ? " was placed though it may not be" : " was not placed"));
      if (inOut) {
        ctx.require(msg.data() == out.data() + at,
                    "message " + std::to_string(m) + " placed at the wrong offset");
      }
      for (size_t i = 0; i < msg.size(); ++i) {
        if (msg[i] != byteOf(m, i)) {
          ctx.fail("message " + std::to_string(m) + " differs at byte " + std::to_string(i));
          break;
        }
      }
      if (tags[m] == 7) at += msg.size();
      t->recvFrom(peer).release();
    }
    // A hint the call ended before its messages came is dropped.
    t->recvFrom(peer).receiveInto(out.data(), out.size(), 9);
    t->pauseProgress(ProgressPause::CallEnd);
    setup->barrier();
    std::span<const std::byte> msg = next();
    ctx.require(msg.data() < out.data() || msg.data() >= out.data() + out.size(),
                "a message was placed after the call ended");
    ctx.require(msg.size() == sizes[5] && msg[0] == byteOf(5, 0), "message 5 differs");
    t->recvFrom(peer).release();
    setup->barrier();
  });
}

/// More hinted messages than slots queued in the kernel: one pass reads every message a
/// free slot allows and the header after them, and each keeps its place (a header read
/// while its slot's previous message awaited publication once took that message's place).
TEST(TcpProgress, MoreHintedMessagesThanSlotsKeepTheirPlaces) {
  constexpr int kSlots = 4;
  constexpr int kMessages = 3 * kSlots + 1;
  constexpr size_t kBytes = 24;
  runPair(4096, kSlots, true, [&](RankContext& ctx, SetupChannel* setup, Transport* t) {
    const int peer = 1 - ctx.rank;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    if (ctx.rank == 0) {
      setup->barrier();  // rank 1 gave its hint
      for (uint64_t m = 0; m < kMessages; ++m) {
        std::span<std::byte> slot;
        while ((slot = t->sendTo(peer).acquire()).empty()) {
          t->progress();
          ctx.require(Clock::now() < deadline, "send timed out");
        }
        for (size_t i = 0; i < kBytes; ++i) slot[i] = byteOf(m, i);
        t->sendTo(peer).commit(kBytes, 5);
      }
      t->pauseProgress(ProgressPause::CallEnd);
      setup->barrier();
      return;
    }
    std::vector<std::byte> out(kMessages * kBytes);
    t->progress();
    t->recvFrom(peer).receiveInto(out.data(), out.size(), 5);
    setup->barrier();
    // Let everything the ring cannot hold yet reach the kernel, so passes read ahead.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (uint64_t m = 0; m < kMessages; ++m) {
      std::span<const std::byte> msg;
      while ((msg = t->recvFrom(peer).peek()).empty()) {
        t->progress();
        ctx.require(Clock::now() < deadline, "receive timed out");
      }
      ctx.require(msg.data() == out.data() + m * kBytes && msg.size() == kBytes,
                  "message " + std::to_string(m) + " is not where it belongs");
      for (size_t i = 0; i < kBytes; ++i) {
        ctx.require(msg[i] == byteOf(m, i),
                    "message " + std::to_string(m) + " differs at byte " + std::to_string(i));
      }
      t->recvFrom(peer).release();
    }
    setup->barrier();
  });
}

/// An asynchronous AllReduce over TCP completes while the caller computes and never calls
/// into Prism: the library's own threads move it.
TEST(TcpProgress, AsyncAllReduceCompletesWhileTheCallerComputes) {
  ScopedEnv transport("PRISM_TRANSPORT", "tcp");
  test::runRanks(
      2, Mode::Processes,
      [&](RankContext& ctx) {
        Comm comm = Comm::fromUniqueId(ctx.id, ctx.nranks, ctx.rank);
        constexpr size_t kCount = size_t{4} << 20;  // 16 MiB: many slots each way
        std::vector<float> in(kCount), out(kCount, -1.0f);
        for (size_t i = 0; i < kCount; ++i) in[i] = static_cast<float>((i + ctx.rank) % 97);
        comm.synchronize();
        Work work = comm.allReduce(in.data(), out.data(), kCount, ncclFloat32, ncclSum);
        // Compute, touching only our own memory, for longer than the call needs.
        const auto until = Work::Clock::now() + std::chrono::seconds(3);
        uint64_t sink = 0;
        while (Work::Clock::now() < until) {
          for (size_t i = 0; i < kCount; i += 64) sink += static_cast<uint64_t>(in[i]);
        }
        const auto computed = Work::Clock::now();
        ctx.require(work.wait(std::chrono::seconds(30)), "the AllReduce did not complete");
        ctx.require(work.endTime() < computed,
                    "the AllReduce completed only once the caller called in again");
        for (size_t i = 0; i < kCount; ++i) {
          const float want = static_cast<float>(i % 97 + (i + 1) % 97);
          if (out[i] != want) {
            ctx.fail("element " + std::to_string(i) + " is " + std::to_string(out[i]) + ", want " +
                     std::to_string(want) + " (sink " + std::to_string(sink) + ")");
            break;
          }
        }
      },
      twoTransportRanks());
}

/// Collectives whose steps move data, over TCP links that read hinted messages straight
/// into the output (PRISM_TCP_PLACEMENT=1), with the algorithms that cut them into many
/// small messages (the double binary tree) and into slot-sized ones (ring).
TEST(TcpCollectives, PlacementIntoTheOutputAsProcesses) {
  ScopedEnv transport("PRISM_TRANSPORT", "tcp");
  ScopedEnv placement("PRISM_TCP_PLACEMENT", "1");
  const test::MatrixScope scope{{ncclFloat32, ncclInt8}, {test::RefOp::Sum}, {0, 7, 4099, 100003}};
  const Coll colls[] = {Coll::AllGather, Coll::Broadcast, Coll::AllReduce, Coll::SendRecv};
  RunOptions options;
  for (Coll c : colls) {
    options.sharedBytes = std::max(options.sharedBytes, test::checkerSharedBytes(c, 3, 100003));
  }
  options.timeout = std::chrono::seconds(120);
  for (const char* algo : {"ring", "double_binary_tree"}) {
    ScopedEnv forced("PRISM_ALGO", algo);
    test::runRanks(
        3, Mode::Processes,
        [&](RankContext& ctx) {
          for (Coll c : colls) test::runCases(ctx, c, scope);
        },
        options);
  }
}

}  // namespace
}  // namespace prism
