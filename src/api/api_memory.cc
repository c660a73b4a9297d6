// ncclMemAlloc and buffer/window registration: device memory where a CUDA device is
// present (what NCCL hands out), page-aligned host memory otherwise.
#include <nccl.h>
#include <sys/mman.h>

#include <map>
#include <mutex>

#include "api/guard.h"
#include "api/handle.h"
#include "api/validate.h"
#include "device/device.h"

using namespace prism;
using namespace prism::api;

/// A registered window (ncclWindow_t points at one).
struct ncclWindow_vidmem {
  ncclComm* comm;
  void* handle;
  int flags;
};

namespace {

// ncclMemAlloc hands out page-aligned mappings; the table lets ncclMemFree reject pointers
// it did not hand out instead of corrupting the heap.
std::mutex gAllocMutex;
std::map<void*, size_t> gAllocations;

}  // namespace

extern "C" {

ncclResult_t ncclMemAlloc(void** ptr, size_t size) {
  return guard(nullptr, "ncclMemAlloc", [&] {
    checkOutPointer(ptr, "ptr");
    *ptr = nullptr;
    check(size > 0 && size <= kMaxCallBytes, ncclInvalidArgument,
          "size " + std::to_string(size) + " must be in (0, 1 TiB]");
    if (device::available()) {
      *ptr = device::allocate(size);
      return;
    }
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throwSystemError("mmap of " + std::to_string(size) + " bytes");
    std::lock_guard lock(gAllocMutex);
    gAllocations[p] = size;
    *ptr = p;
  });
}

ncclResult_t ncclMemFree(void* ptr) {
  return guard(nullptr, "ncclMemFree", [&] {
    if (!ptr) return;
    std::lock_guard lock(gAllocMutex);
    auto it = gAllocations.find(ptr);
    if (it == gAllocations.end() && device::sideOf(ptr) == device::Side::Device) {
      return device::release(ptr);
    }
    check(it != gAllocations.end(), ncclInvalidArgument,
          "pointer was not returned by ncclMemAlloc");
    munmap(it->first, it->second);
    gAllocations.erase(it);
  });
}

ncclResult_t ncclCommRegister(const ncclComm_t comm, void* buff, size_t size, void** handle) {
  return guard(comm, "ncclCommRegister", [&] {
    Communicator& c = usableComm(comm);
    checkOutPointer(handle, "handle");
    checkBuffer(buff, size, "buff");
    *handle = c.registerBuffer(buff, size);
  });
}

ncclResult_t ncclCommDeregister(const ncclComm_t comm, void* handle) {
  return guard(comm, "ncclCommDeregister", [&] {
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    comm->get().deregisterBuffer(handle);
  });
}

ncclResult_t ncclCommWindowRegister(ncclComm_t comm, void* buff, size_t size, ncclWindow_t* win,
                                    int winFlags) {
  return guard(comm, "ncclCommWindowRegister", [&] {
    Communicator& c = usableComm(comm);
    checkOutPointer(win, "win");
    checkBuffer(buff, size, "buff");
    check(winFlags == NCCL_WIN_DEFAULT || winFlags == NCCL_WIN_COLL_SYMMETRIC, ncclInvalidArgument,
          "unknown winFlags " + std::to_string(winFlags));
    *win = new ncclWindow_vidmem{comm, c.registerBuffer(buff, size), winFlags};
  });
}

ncclResult_t ncclCommWindowDeregister(ncclComm_t comm, ncclWindow_t win) {
  return guard(comm, "ncclCommWindowDeregister", [&] {
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    checkOutPointer(win, "win");
    check(win->comm == comm, ncclInvalidArgument, "window belongs to another communicator");
    comm->get().deregisterBuffer(win->handle);
    delete win;
  });
}

}  // extern "C"

PRISM_PROFILING_ALIAS(ncclMemAlloc);
PRISM_PROFILING_ALIAS(ncclMemFree);
PRISM_PROFILING_ALIAS(ncclCommRegister);
PRISM_PROFILING_ALIAS(ncclCommDeregister);
PRISM_PROFILING_ALIAS(ncclCommWindowRegister);
PRISM_PROFILING_ALIAS(ncclCommWindowDeregister);
