// Host memory handed out by ncclMemAlloc: a memfd mapped shared, so ranks in other
// processes can map it too and the direct path (core/direct_host.h) reads and writes it
// with plain loads and streaming stores, as between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace prism::shared_host_memory {

struct Region {
  int fd = -1;
  uint64_t id = 0;      ///< never reused within a process
  uint64_t offset = 0;  ///< of the queried address from the allocation's start
  uint64_t bytes = 0;   ///< the allocation's length
};

/// `bytes` of zeroed, page-aligned shareable memory; throws Error on failure.
void* allocate(size_t bytes);
/// Unmaps an allocate() result; false if `base` is not one.
bool release(void* base);
/// The allocation holding [p, p + bytes), if there is one.
std::optional<Region> find(const void* p, size_t bytes);

}  // namespace prism::shared_host_memory
