// libFuzzer: the 128 bytes of an ncclUniqueId, which arrive from whatever launched the
// rank. decodeUniqueId accepts them or throws prism::Error; an accepted id encodes back to
// an id that decodes to the same root and secret.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "src/bootstrap/unique_id.h"

using namespace prism;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ncclUniqueId id{};
  std::memcpy(id.internal, data, size < sizeof(id.internal) ? size : sizeof(id.internal));
  try {
    const bootstrap::UniqueIdFields fields = bootstrap::decodeUniqueId(id);
    ncclUniqueId again{};
    bootstrap::encodeUniqueId(fields, &again);
    const bootstrap::UniqueIdFields back = bootstrap::decodeUniqueId(again);
    if (back.secret != fields.secret || back.root.toString() != fields.root.toString()) {
      std::abort();
    }
  } catch (const Error&) {
  }
  return 0;
}
