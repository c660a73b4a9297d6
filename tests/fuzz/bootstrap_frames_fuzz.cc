// libFuzzer: the 16-byte frame header every bootstrap message starts with, as a root or a
// rank reads it from a socket anyone on the network may connect to. decodeFrameHeader
// accepts it or refuses it, never crashes; an accepted header encodes back to the same
// bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "src/bootstrap/protocol.h"

using namespace prism::bootstrap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t bytes[kFrameHeaderBytes] = {};
  std::memcpy(bytes, data, size < sizeof(bytes) ? size : sizeof(bytes));
  FrameHeader header{};
  if (!decodeFrameHeader(bytes, &header)) return 0;
  if (header.length > kMaxPayloadBytes) std::abort();
  const auto again = encodeFrameHeader(header.type, header.length);
  if (std::memcmp(again.data(), bytes, kFrameHeaderBytes) != 0) std::abort();
  return 0;
}
