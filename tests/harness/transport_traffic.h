// Transport-level traffic for transport tests: ordered streams of messages of every size
// class between every pair of ranks, and ping-pong round trips, each message checked byte
// for byte and by its tag. Works for any Transport (transport.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/harness/rank_runner.h"
#include "transports/transport.h"

namespace prism::test {

/// The byte at offset `i` of message `seq` from `src` to `dst`.
std::byte trafficByte(int src, int dst, uint64_t seq, size_t i);
/// The size of message `seq`: every size class from 1 byte to a full slot.
size_t trafficSize(uint64_t seq, size_t slot);
/// A tag using all 64 bits, different for every message.
uint64_t trafficTag(int from, int to, uint64_t m);

/// Moves messages without blocking: each call does what it can, as the executor does.
class Traffic {
 public:
  Traffic(Transport& t, int messages);
  /// One pass over every peer; returns whether anything moved.
  bool step(RankContext& ctx);
  bool done() const;

 private:
  Transport& t_;
  int messages_;
  std::vector<int> sent_;
  std::vector<int> got_;
};

/// Runs `traffic` to completion, sleeping on the doorbell between bursts; fails `ctx`
/// after 30 s.
void driveTraffic(RankContext& ctx, Transport& t, Traffic& traffic);

/// Round trips between ranks 0 and 1 of every size: rank 1 echoes what rank 0 sends.
void pingPong(RankContext& ctx, Transport& t);

}  // namespace prism::test
