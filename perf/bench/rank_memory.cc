#include "perf/bench/rank_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

#include "perf/bench/device_memory.h"

namespace prism::bench {

void throwIfFailed(ncclComm_t comm, ncclResult_t result, const char* what) {
  if (result == ncclSuccess) return;
  std::string message = std::string(what) + " failed: " + ncclGetErrorString(result);
  const char* detail = ncclGetLastError(comm);
  if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
  throw BenchError(message);
}

int exitStatusOf(int rank, const std::function<int()>& body) {
  try {
    return body();
  } catch (const SetupError& e) {
    std::fprintf(stderr, "prism-bench: rank %d: %s\n", rank, e.what());
    return 2;
  } catch (const BenchError& e) {
    std::fprintf(stderr, "prism-bench: rank %d: %s\n", rank, e.what());
    return 1;
  }
}
namespace {

class HostMemory : public RankMemory {
 protected:
  char* rawAllocate(size_t bytes) override { return static_cast<char*>(std::malloc(bytes)); }
  void rawFree(char* p) override { std::free(p); }
};

// ncclMemAlloc memory the host reads directly: what the library hands out without a
// CUDA device. Where it hands out device memory (as NVIDIA's NCCL does), create() picks
// createNcclDeviceMemory instead: cudaMemcpy copies, calls on the rank's stream.
class NcclMemory : public RankMemory {
 public:
  std::string describe(int device) const override { return "[host] ncclMemAlloc memory"; }

 protected:
  char* rawAllocate(size_t bytes) override {
    void* p = nullptr;
    ncclResult_t result = ncclMemAlloc(&p, bytes);
    if (result != ncclSuccess) {
      throw BenchError("ncclMemAlloc of " + std::to_string(bytes) + " bytes failed: " +
                       ncclGetErrorString(result) + " (" + ncclGetLastError(nullptr) + ")");
    }
    return static_cast<char*>(p);
  }
  void rawFree(char* p) override { ncclMemFree(p); }
};

// A memfd the rank maps shared itself, the way a framework shares a tensor between
// processes. Peers in other processes can map it once it is registered (-R 1 or 2).
class SharedMemory : public RankMemory {
 public:
  std::string describe(int device) const override { return "[host] memfd mapped shared"; }

 protected:
  char* rawAllocate(size_t bytes) override {
    int fd = memfd_create("prism-bench", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      if (fd >= 0) close(fd);
      throw BenchError("memfd of " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
    }
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      throw BenchError("mmap of " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
    }
    open_[static_cast<char*>(p)] = {fd, bytes};
    return static_cast<char*>(p);
  }
  void rawFree(char* p) override {
    auto it = open_.find(p);
    if (it == open_.end()) return;
    munmap(p, it->second.second);
    close(it->second.first);
    open_.erase(it);
  }

 private:
  std::map<char*, std::pair<int, size_t>> open_;  ///< mapping -> (memfd, bytes)
};

}  // namespace

void BufferDeleter::operator()(char* p) const {
  if (p != nullptr) memory->rawFree(p);
}

std::unique_ptr<RankMemory> RankMemory::create(MemKind kind, int rank) {
  switch (kind) {
    case MemKind::Host:
      return std::make_unique<HostMemory>();
    case MemKind::NcclMem:
      if (auto device = createNcclDeviceMemory(rank)) return device;
      return std::make_unique<NcclMemory>();
    case MemKind::Device:
      return createDeviceMemory(rank);
    case MemKind::Shm:
      return std::make_unique<SharedMemory>();
  }
  throw BenchError("unknown memory kind");
}

Buffer RankMemory::allocate(size_t bytes) {
  if (bytes == 0) bytes = 1;
  Buffer buffer(rawAllocate(bytes), BufferDeleter{this});
  if (!buffer) throw BenchError("out of memory allocating " + std::to_string(bytes) + " bytes");
  zero(buffer.get(), bytes);
  return buffer;
}

void RankMemory::copyFromHost(void* dst, const void* hostSrc, size_t bytes) {
  std::memcpy(dst, hostSrc, bytes);
}

void RankMemory::copyToHost(void* hostDst, const void* src, size_t bytes) {
  std::memcpy(hostDst, src, bytes);
}

std::string RankMemory::describe(int device) const { return "[host] host memory"; }

std::unique_ptr<CapturedGraph> RankMemory::capture(const std::function<void()>& calls) {
  throw SetupError("CUDA graphs (-G) need --mem device");
}

void RankMemory::zero(char* p, size_t bytes) { std::memset(p, 0, bytes); }

}  // namespace prism::bench
