#include "src/bootstrap/unique_id.h"

#include <cstring>

#include "base/byte_order.h"
#include "base/error.h"
#include "base/siphash.h"

namespace prism::bootstrap {

namespace {

constexpr uint8_t kMagic[4] = {'P', 'R', 'S', 'M'};
constexpr size_t kFamilyOffset = 6;
constexpr size_t kIpOffset = 12;
constexpr size_t kPortOffset = 28;
constexpr size_t kSecretOffset = 32;
constexpr size_t kChecksumOffset = 120;
static_assert(kChecksumOffset + 8 == NCCL_UNIQUE_ID_BYTES);
static_assert(kSecretOffset + kSecretBytes <= kChecksumOffset);

// A fixed, public key: the checksum is an integrity check, not a secret.
constexpr uint8_t kChecksumKey[kSipKeyBytes] = {'p', 'r', 'i', 's', 'm', '-', 'u', 'n',
                                                'i', 'q', 'u', 'e', '-', 'i', 'd', '1'};

bool allZero(const uint8_t* p, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

void reject(const std::string& why) {
  throw Error(ncclInvalidArgument, "invalid ncclUniqueId: " + why);
}

}  // namespace

void encodeUniqueId(const UniqueIdFields& fields, ncclUniqueId* id) {
  uint8_t* b = reinterpret_cast<uint8_t*>(id->internal);
  std::memset(b, 0, NCCL_UNIQUE_ID_BYTES);
  std::memcpy(b, kMagic, sizeof(kMagic));
  storeLe(b + 4, kUniqueIdVersion, 2);
  b[kFamilyOffset] = static_cast<uint8_t>(fields.root.family);
  size_t ipBytes = fields.root.family == net::SocketAddress::Family::IPv4 ? 4 : 16;
  std::memcpy(b + kIpOffset, fields.root.ip.data(), ipBytes);
  storeLe(b + kPortOffset, fields.root.port, 2);
  std::memcpy(b + kSecretOffset, fields.secret.data(), kSecretBytes);
  storeLe(b + kChecksumOffset, sipHash24(kChecksumKey, b, kChecksumOffset), 8);
}

UniqueIdFields decodeUniqueId(const ncclUniqueId& id) {
  const uint8_t* b = reinterpret_cast<const uint8_t*>(id.internal);
  // Most specific first: an all-zero or foreign id should say "not a Prism id".
  if (std::memcmp(b, kMagic, sizeof(kMagic)) != 0) {
    reject("bad magic (not created by Prism's ncclGetUniqueId, or not initialized)");
  }
  uint64_t version = loadLe(b + 4, 2);
  if (version != kUniqueIdVersion) {
    reject("unsupported format version " + std::to_string(version) + " (expected " +
           std::to_string(kUniqueIdVersion) + ")");
  }
  if (loadLe(b + kChecksumOffset, 8) != sipHash24(kChecksumKey, b, kChecksumOffset)) {
    reject("bad checksum (the id was corrupted or truncated in transit)");
  }
  UniqueIdFields fields;
  uint8_t family = b[kFamilyOffset];
  if (family != 4 && family != 6) reject("bad address family " + std::to_string(family));
  fields.root.family = static_cast<net::SocketAddress::Family>(family);
  size_t ipBytes = family == 4 ? 4 : 16;
  if (!allZero(b + kIpOffset + ipBytes, 16 - ipBytes) || !allZero(b + 7, kIpOffset - 7) ||
      !allZero(b + kPortOffset + 2, kSecretOffset - kPortOffset - 2) ||
      !allZero(b + kSecretOffset + kSecretBytes, kChecksumOffset - kSecretOffset - kSecretBytes)) {
    reject("reserved bytes are not zero");
  }
  std::memcpy(fields.root.ip.data(), b + kIpOffset, ipBytes);
  fields.root.port = static_cast<uint16_t>(loadLe(b + kPortOffset, 2));
  if (fields.root.port == 0) reject("port 0");
  std::memcpy(fields.secret.data(), b + kSecretOffset, kSecretBytes);
  return fields;
}

std::string tagForSecret(const Secret& secret) {
  // Key: first half of the secret; message: a domain byte and the second half, so the tag
  // can never coincide with a connection proof (which hashes a different domain byte).
  uint8_t message[1 + kSecretBytes / 2];
  message[0] = 'T';
  std::memcpy(message + 1, secret.data() + kSipKeyBytes, kSecretBytes / 2);
  uint64_t h = sipHash24(secret.data(), message, sizeof(message));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag(16, '0');
  for (int i = 0; i < 16; ++i) tag[i] = kHex[(h >> (60 - 4 * i)) & 0xf];
  return tag;
}

}  // namespace prism::bootstrap
