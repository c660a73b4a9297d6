#include "src/core/shared_host_memory.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>

#include "base/error.h"

namespace prism::shared_host_memory {

namespace {

struct Allocation {
  int fd;
  uint64_t id;
  size_t bytes;
  uint64_t fileOffset = 0;
  bool owned = true;  ///< ncclMemAlloc's (unmapped by release), not adopted
  int adoptions = 0;  ///< adopt() calls not yet forgotten
};

std::mutex gMutex;
std::map<uintptr_t, Allocation> gAllocations;  // by base address
uint64_t gLastId = 0;

/// One line of /proc/self/maps.
struct Mapping {
  uintptr_t start = 0, end = 0;
  bool sharedWritable = false;
  uint64_t offset = 0;
  unsigned devMajor = 0, devMinor = 0;
  uint64_t inode = 0;
  std::string path;
};

/// The mapping that holds all of [begin, end), if one does.
std::optional<Mapping> mappingOf(uintptr_t begin, uintptr_t end) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    Mapping m;
    char perms[5] = {};
    int pathAt = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
                    &m.start, &m.end, perms, &m.offset, &m.devMajor, &m.devMinor, &m.inode,
                    &pathAt) < 7)
      continue;
    if (!(m.start <= begin && end <= m.end)) continue;
    m.sharedWritable = perms[0] == 'r' && perms[1] == 'w' && perms[3] == 's';
    if (pathAt > 0 && static_cast<size_t>(pathAt) <= line.size()) m.path = line.substr(pathAt);
    return m;
  }
  return std::nullopt;
}

/// `path` opened for reading and writing if it names the file `m` maps; else -1. The
/// file is checked before it is opened, so nothing else is ever opened.
int openIfMapped(const std::string& path, const Mapping& m) {
  struct stat st {};
  auto same = [&] {
    return st.st_ino == m.inode && major(st.st_dev) == m.devMajor && minor(st.st_dev) == m.devMinor;
  };
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !same()) return -1;
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fstat(fd, &st) != 0 || !same()) {
    close(fd);
    return -1;
  }
  return fd;
}

/// A descriptor of the file that `m` maps, opened here: through the kernel's link to it
/// (which needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE), by its path while it exists,
/// or through a descriptor the process still holds (a memfd, an unlinked /dev/shm file).
int reopen(const Mapping& m) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/map_files/%" PRIxPTR "-%" PRIxPTR, m.start, m.end);
  if (int fd = openIfMapped(link, m); fd >= 0) return fd;
  if (m.path.starts_with('/')) {
    if (int fd = openIfMapped(m.path, m); fd >= 0) return fd;
  }
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return -1;
  int found = -1;
  while (dirent* e = readdir(fds)) {
    if (e->d_name[0] == '.') continue;
    found = openIfMapped(std::string("/proc/self/fd/") + e->d_name, m);
    if (found >= 0) break;
  }
  closedir(fds);
  return found;
}

/// True if [begin, end) shares a byte with a registered allocation. Holds gMutex.
bool overlapsLocked(uintptr_t begin, uintptr_t end) {
  auto it = gAllocations.lower_bound(end);
  if (it == gAllocations.begin()) return false;
  --it;  // the last allocation starting before `end`
  return it->first + it->second.bytes > begin;
}

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
  if (it == gAllocations.end() || !it->second.owned) return false;
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
  return Region{a.fd, a.id, address - it->first, a.bytes, a.fileOffset};
}

uint64_t adopt(const void* p, size_t bytes) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto address = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = address & ~(page - 1);
  const uintptr_t end = (address + bytes + page - 1) & ~(page - 1);
  const std::optional<Mapping> m = mappingOf(begin, end);
  if (!m || !m->sharedWritable || m->inode == 0) return 0;
  std::lock_guard lock(gMutex);
  auto same = gAllocations.find(begin);
  if (same != gAllocations.end() && !same->second.owned && same->second.bytes == end - begin) {
    ++same->second.adoptions;
    return same->second.id;
  }
  if (overlapsLocked(begin, end)) return 0;
  const int fd = reopen(*m);
  if (fd < 0) return 0;
  Allocation a{fd, ++gLastId, end - begin, m->offset + (begin - m->start)};
  a.owned = false;
  a.adoptions = 1;
  gAllocations[begin] = a;
  return a.id;
}

void forget(uint64_t id) {
  std::lock_guard lock(gMutex);
  for (auto it = gAllocations.begin(); it != gAllocations.end(); ++it) {
    Allocation& a = it->second;
    if (a.id != id || a.owned) continue;
    if (--a.adoptions == 0) {
      close(a.fd);
      gAllocations.erase(it);
    }
    return;
  }
}

}  // namespace prism::shared_host_memory
