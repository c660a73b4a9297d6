// Little-endian integer encoding for bootstrap's wire formats (the unique id and frames),
// so that ranks on hosts of different byte order agree.
#pragma once

#include <cstdint>

namespace prism {

/// Stores the low `bytes` bytes of `v` at `p`, least significant first.
inline void storeLe(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

/// Reads `bytes` bytes at `p`, least significant first.
inline uint64_t loadLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace prism
