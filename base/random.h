// Cryptographic randomness for secrets, nonces and tokens.
#pragma once

#include <cstddef>

namespace prism {

/// Fills `bytes` with getrandom() output; throws ncclSystemError if the kernel refuses.
void fillRandom(void* data, size_t bytes);

}  // namespace prism
