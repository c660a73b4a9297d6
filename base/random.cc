#include "base/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>

#include "base/error.h"

namespace prism {

void fillRandom(void* data, size_t bytes) {
  auto* p = static_cast<uint8_t*>(data);
  while (bytes > 0) {
    ssize_t n = ::getrandom(p, bytes, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwSystemError("getrandom");
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

}  // namespace prism
