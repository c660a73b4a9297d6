// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), written
// from the paper's description. Bootstrap uses it as a keyed hash: the id checksum, the
// proof that a connecting peer knows the id's secret, and the shared-memory name tag.
#pragma once

#include <cstddef>
#include <cstdint>

namespace prism {

inline constexpr size_t kSipKeyBytes = 16;

/// The 64-bit SipHash-2-4 of `data` under a 16-byte key (read as two little-endian words).
uint64_t sipHash24(const uint8_t* key, const void* data, size_t bytes);

}  // namespace prism
