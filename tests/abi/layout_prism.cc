// Prism's nccl.h side of the layout check (see layout_nvidia.cc).
#include <nccl.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

static_assert(sizeof(ncclUniqueId) == 128, "ncclUniqueId is 128 bytes");
static_assert(offsetof(ncclConfig_t, magic) == 8 && offsetof(ncclConfig_t, blocking) == 16,
              "ncclConfig_t starts with size, magic, version");
static_assert(ncclNumTypes == 12 && ncclNumOps == 5 && ncclNumResults == 8, "enum counts");

namespace abi_prism {
#include "tests/abi/layout_table.inc"
}  // namespace abi_prism

std::vector<std::pair<std::string, std::string>> prismFacts() { return abi_prism::abiFacts(); }
