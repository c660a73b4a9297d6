// The bootstrap wire protocol between ranks and the root.
//
// 1. Proof, both ways. On accept the root sends a fresh 16-byte nonce. The client answers
//    with a 16-byte proof (two SipHash-2-4 values of (domain byte, nonce), one keyed with
//    each half of the id's secret) and a fresh nonce of its own. The root compares in
//    constant time and reads nothing else until the proof matches; then it proves itself
//    the same way over the client's nonce, with other domain bytes, and the client sends
//    nothing more (no rank, no host identity) until that proof matches. A challenge rather
//    than the secret itself because bootstrap TCP is plain text: an observer never learns
//    the secret (which also names shared-memory objects via tagForSecret), the fresh
//    nonces make a recorded proof useless, and the domain bytes keep a client's proof
//    from serving as the root's. An unproven connection gets kProofDeadline.
// 2. Frames. After the proof, both sides exchange frames: a 16-byte header (u32 magic,
//    u32 type, u64 payload length, little-endian) and the payload.
//      Register      client->root  i32 rank, i32 nranks
//      Ok            root->client  (empty) registration accepted
//      Error         root->client  u32 ncclResult_t, reason text; the root then closes
//      Gather        client->root  u64 round, blob
//      GatherResult  root->client  u64 round, nranks blobs in rank order
//    A client sends round k+1 only after receiving round k's result, so the root never
//    holds more than one round.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/bootstrap/unique_id.h"

namespace prism::bootstrap {

inline constexpr size_t kNonceBytes = 16;
inline constexpr size_t kProofBytes = 16;
inline constexpr size_t kFrameHeaderBytes = 16;
/// How long a connection may take to prove the secret (a round trip, with a wide margin
/// for loaded hosts; a client that misses it retries).
inline constexpr std::chrono::milliseconds kProofDeadline{1000};
/// Frames above this are garbage; bootstrap blobs are addresses and small descriptors.
inline constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 30;

using Nonce = std::array<uint8_t, kNonceBytes>;
using Proof = std::array<uint8_t, kProofBytes>;

enum class MsgType : uint32_t { Register = 1, Ok = 2, Error = 3, Gather = 4, GatherResult = 5 };

struct FrameHeader {
  MsgType type;
  uint64_t length;
};

/// The client's proof over the root's nonce.
Proof computeProof(const Secret& secret, const Nonce& nonce);
/// The root's proof over the client's nonce (other domain bytes than computeProof).
Proof computeRootProof(const Secret& secret, const Nonce& nonce);
/// Constant-time comparison, so response timing does not reveal how many bytes matched.
bool proofMatches(const Proof& expected, const uint8_t* received);

std::array<uint8_t, kFrameHeaderBytes> encodeFrameHeader(MsgType type, uint64_t length);
/// False for a bad magic, an unknown type or an oversized length.
bool decodeFrameHeader(const uint8_t* bytes, FrameHeader* out);

/// A whole frame: header followed by `prefix` (already encoded) and `bytes` of data.
std::vector<uint8_t> makeFrame(MsgType type, const std::vector<uint8_t>& prefix,
                               const void* data = nullptr, size_t bytes = 0);

}  // namespace prism::bootstrap
