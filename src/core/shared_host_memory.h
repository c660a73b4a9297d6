// Host memory that ranks in other processes can map, so the direct path
// (core/direct_host.h) reads and writes it with plain loads and streaming stores, as
// between threads: what ncclMemAlloc hands out (a memfd mapped shared), and memory the
// caller mapped shared from a file or memfd and registered with ncclCommRegister.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace prism::shared_host_memory {

struct Region {
  int fd = -1;
  uint64_t id = 0;          ///< never reused within a process
  uint64_t offset = 0;      ///< of the queried address from the allocation's start
  uint64_t bytes = 0;       ///< the allocation's length
  uint64_t fileOffset = 0;  ///< where the allocation starts in `fd`
};

/// `bytes` of zeroed, page-aligned shareable memory; throws Error on failure.
void* allocate(size_t bytes);
/// Unmaps an allocate() result; false if `base` is not one.
bool release(void* base);
/// The allocation holding [p, p + bytes), if there is one.
std::optional<Region> find(const void* p, size_t bytes);

/// Makes the pages of [p, p + bytes) findable when the caller mapped them shared from a
/// file or memfd (a /dev/shm file, a framework's shared-memory tensor): ncclCommRegister's
/// host half. Returns a nonzero id, or 0 when the memory is private (malloc), overlaps
/// memory already findable, or its file cannot be reopened here; such buffers keep working
/// through the FIFOs. Adopting the same range again counts; each adopt() needs a forget().
/// The caller must forget() before unmapping the memory (ncclCommDeregister before free).
uint64_t adopt(const void* p, size_t bytes);
/// Undoes one adopt() that returned `id`.
void forget(uint64_t id);

}  // namespace prism::shared_host_memory
