// The layout of Prism's 128-byte ncclUniqueId. All integers are little-endian.
//
//   offset  size  field
//        0     4  magic "PRSM"
//        4     2  format version (kUniqueIdVersion)
//        6     1  address family: 4 (IPv4) or 6 (IPv6)
//        7     5  reserved, zero
//       12    16  root IP address, network byte order (IPv4: first 4 bytes, rest zero)
//       28     2  root TCP port
//       30     2  reserved, zero
//       32    32  secret: random bytes from getrandom(); proves membership to the root
//       64    56  reserved, zero (room for a later format without changing the size)
//      120     8  checksum: SipHash-2-4 of bytes [0, 120) under a fixed public key
//
// The checksum only catches garbage and truncation (an id copied wrongly between
// processes); the secret is what keeps strangers out.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/socket.h"
#include "nccl.h"

namespace prism::bootstrap {

inline constexpr uint16_t kUniqueIdVersion = 1;
inline constexpr size_t kSecretBytes = 32;
using Secret = std::array<uint8_t, kSecretBytes>;

/// What an id carries: where the root listens and the communicator's secret.
struct UniqueIdFields {
  net::SocketAddress root;
  Secret secret{};
};

/// Writes `fields` into all 128 bytes of `id`.
void encodeUniqueId(const UniqueIdFields& fields, ncclUniqueId* id);
/// Parses and validates an id; throws Error(ncclInvalidArgument, reason) if malformed.
UniqueIdFields decodeUniqueId(const ncclUniqueId& id);
/// 16 hex characters derived from the secret with a keyed hash, so that the tag (visible in
/// /dev/shm names) reveals nothing about the secret.
std::string tagForSecret(const Secret& secret);

}  // namespace prism::bootstrap
