// The wire protocol between ranks and the prism-innet aggregation service (docs/in-network.md).
// Every message is a 32-byte Frame header followed by `bytes` of payload. Integers are in
// the sender's native order; both ends refuse to build on big-endian hosts, so the wire is
// little-endian.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/socket.h"

namespace prism::innet {

static_assert(std::endian::native == std::endian::little, "the in-network wire is little-endian");

inline constexpr uint32_t kMagic = 0x4e4e4950;  ///< "PINN"
inline constexpr uint16_t kVersion = 1;
/// Longest job token a Hello may carry, and longest Error text.
inline constexpr uint32_t kMaxTokenBytes = 256;
inline constexpr uint32_t kMaxErrorBytes = 1024;
/// Limits the service enforces on what one job may ask for.
inline constexpr uint32_t kMaxChunkBytes = 16u << 20;
inline constexpr uint32_t kMaxWindow = 64;
inline constexpr int kMaxRanks = 4096;

enum class FrameType : uint8_t {
  Hello = 1,    ///< rank → service: payload token; rank, nranks, chunkBytes, window
  Welcome = 2,  ///< service → rank: every rank of the job has joined
  Chunk = 3,    ///< rank → service: one contribution (payload: `bytes` of data)
  Result = 4,   ///< service → rank: the reduced chunk (payload: `bytes` of data)
  Bye = 5,      ///< rank → service: leaving the job cleanly (communicator destroyed)
  Error = 6,    ///< service → rank: the job failed; payload is the reason text
};

/// One header. Hello reuses the fields: `chunk` = rank, `sequence` = nranks, `ticket` =
/// chunkBytes | window << 32, `bytes` = token length.
struct Frame {
  uint32_t magic = kMagic;
  FrameType type = FrameType::Hello;
  uint8_t dtype = 0;  ///< DataType of the elements
  uint8_t op = 0;     ///< ReduceOp (Sum, Prod, Max, Min); Avg/PreMulSum are done on ranks
  uint8_t version = kVersion;
  uint32_t chunk = 0;     ///< chunk index within the collective
  uint32_t bytes = 0;     ///< payload bytes that follow
  uint64_t sequence = 0;  ///< collective number within the job (checked, not interpreted)
  /// Job-wide chunk counter: the n-th chunk any rank of the job sends has ticket n. The
  /// service keeps it in slot ticket % window.
  uint64_t ticket = 0;
};
static_assert(sizeof(Frame) == 32);

/// The ranks and sizes a Hello announces.
struct HelloInfo {
  int rank = 0;
  int nranks = 1;
  uint32_t chunkBytes = 0;
  uint32_t window = 0;
};

inline Frame makeHello(const HelloInfo& info, size_t tokenBytes) {
  Frame f;
  f.type = FrameType::Hello;
  f.chunk = static_cast<uint32_t>(info.rank);
  f.sequence = static_cast<uint64_t>(info.nranks);
  f.ticket = info.chunkBytes | (static_cast<uint64_t>(info.window) << 32);
  f.bytes = static_cast<uint32_t>(tokenBytes);
  return f;
}

inline HelloInfo readHello(const Frame& f) {
  return {static_cast<int>(f.chunk), static_cast<int>(f.sequence),
          static_cast<uint32_t>(f.ticket & 0xffffffffu), static_cast<uint32_t>(f.ticket >> 32)};
}

/// Parses "host:port" or "[v6]:port" (a name is resolved). Throws ncclInvalidArgument
/// naming `text` when it is malformed or does not resolve.
net::SocketAddress parseAddress(const std::string& text);

}  // namespace prism::innet
