#include "base/siphash.h"

#include "base/byte_order.h"

namespace prism {

namespace {

constexpr uint64_t rotl(uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

struct SipState {
  uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }

  // Two compression rounds per message word: the "2" of SipHash-2-4.
  void absorb(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

uint64_t sipHash24(const uint8_t* key, const void* data, size_t bytes) {
  const uint64_t k0 = loadLe(key, 8);
  const uint64_t k1 = loadLe(key + 8, 8);
  // The initialization constants spell "somepseudorandomlygeneratedbytes".
  SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
  const auto* in = static_cast<const uint8_t*>(data);
  size_t full = bytes - bytes % 8;
  for (size_t i = 0; i < full; i += 8) s.absorb(loadLe(in + i, 8));
  // Last word: the remaining 0..7 bytes, little-endian, with the length's low byte on top.
  uint64_t last = static_cast<uint64_t>(bytes & 0xff) << 56;
  for (size_t i = full; i < bytes; ++i) last |= static_cast<uint64_t>(in[i]) << (8 * (i - full));
  s.absorb(last);
  // Four finalization rounds: the "4".
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace prism
