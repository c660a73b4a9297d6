// NVIDIA's nccl.h side of the layout check, compiled with -I/usr/local/cuda/include.
// The static_asserts pin the facts users rely on; abiFacts() lists everything for the
// runtime comparison with Prism's header (layout_main.cc).
#include <nccl.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

static_assert(sizeof(ncclUniqueId) == 128, "ncclUniqueId is 128 bytes");
static_assert(NCCL_VERSION_CODE >= 22800, "the ABI test targets NCCL 2.28");
static_assert(offsetof(ncclConfig_t, magic) == 8 && offsetof(ncclConfig_t, blocking) == 16,
              "ncclConfig_t starts with size, magic, version");
static_assert(ncclNumTypes == 12 && ncclNumOps == 5 && ncclNumResults == 8, "enum counts");

namespace abi_nvidia {
#include "tests/abi/layout_table.inc"
}  // namespace abi_nvidia

std::vector<std::pair<std::string, std::string>> nvidiaFacts() { return abi_nvidia::abiFacts(); }
