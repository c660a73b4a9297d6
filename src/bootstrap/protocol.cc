#include "src/bootstrap/protocol.h"

#include <cstring>

#include "base/byte_order.h"
#include "base/error.h"
#include "base/siphash.h"

namespace prism::bootstrap {

namespace {
constexpr uint32_t kFrameMagic = 0x31425250;  // "PRB1" in little-endian byte order

Proof proofWith(const Secret& secret, const Nonce& nonce, uint8_t first, uint8_t second) {
  uint8_t message[1 + kNonceBytes];
  std::memcpy(message + 1, nonce.data(), kNonceBytes);
  Proof proof;
  message[0] = first;
  storeLe(proof.data(), sipHash24(secret.data(), message, sizeof(message)), 8);
  message[0] = second;
  storeLe(proof.data() + 8, sipHash24(secret.data() + kSipKeyBytes, message, sizeof(message)), 8);
  return proof;
}

}  // namespace

Proof computeProof(const Secret& secret, const Nonce& nonce) {
  return proofWith(secret, nonce, 'P', 'Q');
}

Proof computeRootProof(const Secret& secret, const Nonce& nonce) {
  return proofWith(secret, nonce, 'R', 'S');
}

bool proofMatches(const Proof& expected, const uint8_t* received) {
  uint8_t diff = 0;
  for (size_t i = 0; i < kProofBytes; ++i) diff |= expected[i] ^ received[i];
  return diff == 0;
}

std::array<uint8_t, kFrameHeaderBytes> encodeFrameHeader(MsgType type, uint64_t length) {
  std::array<uint8_t, kFrameHeaderBytes> h;
  storeLe(h.data(), kFrameMagic, 4);
  storeLe(h.data() + 4, static_cast<uint32_t>(type), 4);
  storeLe(h.data() + 8, length, 8);
  return h;
}

bool decodeFrameHeader(const uint8_t* bytes, FrameHeader* out) {
  if (loadLe(bytes, 4) != kFrameMagic) return false;
  uint64_t type = loadLe(bytes + 4, 4);
  if (type < static_cast<uint32_t>(MsgType::Register) ||
      type > static_cast<uint32_t>(MsgType::GatherResult)) {
    return false;
  }
  out->type = static_cast<MsgType>(type);
  out->length = loadLe(bytes + 8, 8);
  return out->length <= kMaxPayloadBytes;
}

std::vector<uint8_t> makeFrame(MsgType type, const std::vector<uint8_t>& prefix, const void* data,
                               size_t bytes) {
  auto header = encodeFrameHeader(type, prefix.size() + bytes);
  std::vector<uint8_t> frame(header.size() + prefix.size() + bytes);
  std::memcpy(frame.data(), header.data(), header.size());
  if (!prefix.empty()) std::memcpy(frame.data() + header.size(), prefix.data(), prefix.size());
  if (bytes > 0) std::memcpy(frame.data() + header.size() + prefix.size(), data, bytes);
  return frame;
}

}  // namespace prism::bootstrap
