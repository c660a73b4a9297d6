// What every rank must agree on for one operation (its fingerprint), and the 64-bit tag
// that every message of the operation carries, so that a receiver never consumes another
// operation's bytes and a mismatch between ranks is an error instead of wrong data.
//
// The tag packs the fingerprint: bits 0-15 the operation's number, 16-19 the kind (a
// Collective, point-to-point, or "abandoned"), 20-23 the data type, 24-27 the reduction,
// 28-39 the root, 40-63 the element count. The number keeps its low bits; roots and counts
// wider than their fields are folded (XOR of their pieces). Equal fingerprints always give
// equal tags, and a tag decodes back exactly for operation numbers within 2^15 of the
// receiver's, roots below 4096 and counts below 2^24.
//
// The communicator needs no field of its own: each communicator has FIFOs of its own, so a
// message can only ever reach the communicator it was sent on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/operation.h"

namespace prism {

/// The kinds a tag names beyond the collectives (Collective values 0-7); point-to-point
/// messages take SendRecv's value.
inline constexpr uint8_t kPointToPointKind = static_cast<uint8_t>(Collective::SendRecv);
/// A rank that found a mismatch tells its peers it gave up on the operation; the payload
/// is its reason.
inline constexpr uint8_t kAbandonedKind = 15;

struct OpFingerprint {
  /// Collectives: the communicator's collective number. Point-to-point: the number of the
  /// message between this ordered pair of ranks.
  uint64_t seq = 0;
  uint8_t kind = 0;  ///< static_cast<uint8_t>(Collective), kPointToPointKind, kAbandonedKind
  DataType type = DataType::Uint8;
  /// 0 sum, 1 prod, 2 max, 3 min, 4 avg, 5 PreMulSum; 0 where the kind reduces nothing.
  uint8_t reduction = 0;
  int32_t root = 0;  ///< rooted collectives; 0 otherwise
  uint64_t count = 0;
  friend bool operator==(const OpFingerprint&, const OpFingerprint&) = default;
};

/// The fingerprint of `op` as operation number `seq`.
OpFingerprint fingerprintOf(const Operation& op, uint64_t seq);
uint64_t tagOf(const OpFingerprint& f);
/// The kind field of a tag.
inline uint8_t tagKind(uint64_t tag) { return static_cast<uint8_t>((tag >> 16) & 0xf); }

/// "AllReduce #7 (count 100000, float, sum)", "Broadcast #3 (count 779, int32, root 0)".
std::string describe(const OpFingerprint& f);
/// The same for a tag, decoded; `near` is the receiver's own operation number, which
/// restores the full number of the peer's.
std::string describeTag(uint64_t tag, uint64_t near);

}  // namespace prism
