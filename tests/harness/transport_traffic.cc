#include "tests/harness/transport_traffic.h"

#include <chrono>
#include <cstring>
#include <span>
#include <string>

namespace prism::test {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(30);

}  // namespace

std::byte trafficByte(int src, int dst, uint64_t seq, size_t i) {
  return static_cast<std::byte>((src * 131 + dst * 29 + seq * 7 + i * 13 + (i >> 8)) & 0xff);
}

size_t trafficSize(uint64_t seq, size_t slot) {
  const size_t sizes[] = {1, 2, 7, 63, 64, 65, 1000, 4096, slot / 2 + 3, slot - 1, slot};
  return sizes[seq % (sizeof(sizes) / sizeof(sizes[0]))];
}

uint64_t trafficTag(int from, int to, uint64_t m) {
  return 0x9e3779b97f4a7c15ull * (m + 1) ^ static_cast<uint64_t>(from << 8 | to);
}

Traffic::Traffic(Transport& t, int messages)
    : t_(t), messages_(messages), sent_(t.size()), got_(t.size()) {}

bool Traffic::step(RankContext& ctx) {
  bool moved = false;
  t_.progress();
  for (int peer = 0; peer < t_.size(); ++peer) {
    if (peer == t_.rank()) continue;
    auto& s = sent_[peer];
    if (s < messages_) {
      auto slot = t_.sendTo(peer).acquire();
      if (!slot.empty()) {
        size_t n = trafficSize(s, t_.slotBytes());
        for (size_t i = 0; i < n; ++i) slot[i] = trafficByte(t_.rank(), peer, s, i);
        t_.sendTo(peer).commit(n, trafficTag(t_.rank(), peer, s));
        ++s;
        moved = true;
      }
    }
    auto& g = got_[peer];
    if (g < messages_) {
      auto msg = t_.recvFrom(peer).peek();
      if (!msg.empty()) {
        size_t n = trafficSize(g, t_.slotBytes());
        ctx.require(msg.size() == n,
                    "message " + std::to_string(g) + " from " + std::to_string(peer) + " has " +
                        std::to_string(msg.size()) + " bytes, want " + std::to_string(n));
        ctx.require(t_.recvFrom(peer).tag() == trafficTag(peer, t_.rank(), g),
                    "message " + std::to_string(g) + " from " + std::to_string(peer) +
                        " carries the wrong tag");
        for (size_t i = 0; i < n; ++i) {
          if (msg[i] != trafficByte(peer, t_.rank(), g, i)) {
            ctx.fail("message " + std::to_string(g) + " from " + std::to_string(peer) +
                     " differs at byte " + std::to_string(i) + " (out of order or corrupt)");
          }
        }
        t_.recvFrom(peer).release();
        ++g;
        moved = true;
      }
    }
  }
  return moved;
}

bool Traffic::done() const {
  for (int p = 0; p < t_.size(); ++p) {
    if (p != t_.rank() && (sent_[p] < messages_ || got_[p] < messages_)) return false;
  }
  return true;
}

void driveTraffic(RankContext& ctx, Transport& t, Traffic& traffic) {
  const auto deadline = Clock::now() + kDeadline;
  while (!traffic.done()) {
    if (traffic.step(ctx)) continue;
    uint32_t ticket = t.doorbell().arm();
    if (!traffic.step(ctx) && !traffic.done()) {
      t.pauseProgress(ProgressPause::Sleep);
      t.doorbell().wait(ticket, std::chrono::milliseconds(20));
    }
    t.doorbell().disarm();
    ctx.require(Clock::now() < deadline, "transport test timed out");
  }
}

void pingPong(RankContext& ctx, Transport& t) {
  if (t.rank() > 1) return;
  const int other = 1 - t.rank();
  const auto deadline = Clock::now() + kDeadline;
  auto wait = [&](auto&& ready) {
    while (!ready()) {
      t.progress();
      uint32_t ticket = t.doorbell().arm();
      if (!ready()) {
        t.pauseProgress(ProgressPause::Sleep);
        t.doorbell().wait(ticket, std::chrono::milliseconds(20));
      }
      t.doorbell().disarm();
      ctx.require(Clock::now() < deadline, "ping-pong timed out");
    }
  };
  std::vector<std::byte> payload(t.slotBytes());
  for (uint64_t round = 0; round < 40; ++round) {
    const size_t n = trafficSize(round, t.slotBytes());
    for (size_t i = 0; i < n; ++i) payload[i] = trafficByte(0, 1, round, i);
    for (int leg = 0; leg < 2; ++leg) {
      const bool sending = (leg == 0) == (t.rank() == 0);
      if (sending) {
        std::span<std::byte> slot;
        wait([&] { return !(slot = t.sendTo(other).acquire()).empty(); });
        std::memcpy(slot.data(), payload.data(), n);
        t.sendTo(other).commit(n, round);
      } else {
        std::span<const std::byte> msg;
        wait([&] { return !(msg = t.recvFrom(other).peek()).empty(); });
        ctx.require(msg.size() == n && std::memcmp(msg.data(), payload.data(), n) == 0 &&
                        t.recvFrom(other).tag() == round,
                    "ping-pong round " + std::to_string(round) + " of " + std::to_string(n) +
                        " bytes came back different");
        t.recvFrom(other).release();
      }
    }
  }
}

}  // namespace prism::test
