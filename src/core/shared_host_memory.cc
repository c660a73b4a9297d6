#include "core/shared_host_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "core/error.h"

namespace prism::shared_host_memory {

namespace {

struct Allocation {
  int fd;
  uint64_t id;
  size_t bytes;
};

std::mutex gMutex;
std::map<uintptr_t, Allocation> gAllocations;  // by base address
uint64_t gLastId = 0;

}  // namespace

void* allocate(size_t bytes) {
  int fd = memfd_create("prism-ncclmem", MFD_CLOEXEC);
  if (fd < 0) throw Error(ncclSystemError, std::string("memfd_create: ") + std::strerror(errno));
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    int e = errno;
    close(fd);
    throw Error(ncclSystemError,
                "ftruncate of a memfd to " + std::to_string(bytes) + " bytes: " + std::strerror(e));
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    close(fd);
    throw Error(ncclSystemError,
                "mmap of " + std::to_string(bytes) + " bytes: " + std::strerror(e));
  }
  std::lock_guard lock(gMutex);
  gAllocations[reinterpret_cast<uintptr_t>(p)] = {fd, ++gLastId, bytes};
  return p;
}

bool release(void* base) {
  std::lock_guard lock(gMutex);
  auto it = gAllocations.find(reinterpret_cast<uintptr_t>(base));
  if (it == gAllocations.end()) return false;
  munmap(base, it->second.bytes);
  close(it->second.fd);
  gAllocations.erase(it);
  return true;
}

std::optional<Region> find(const void* p, size_t bytes) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  std::lock_guard lock(gMutex);
  auto it = gAllocations.upper_bound(address);
  if (it == gAllocations.begin()) return std::nullopt;
  --it;
  const Allocation& a = it->second;
  if (address - it->first + bytes > a.bytes) return std::nullopt;
  return Region{a.fd, a.id, address - it->first, a.bytes};
}

}  // namespace prism::shared_host_memory
