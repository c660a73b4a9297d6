// ncclMemAlloc and buffer/window registration: device memory where a CUDA device is
// present (what NCCL hands out), otherwise page-aligned host memory that ranks in other
// processes can map (core/direct_host.h); its registry lets ncclMemFree reject pointers
// it did not hand out instead of corrupting the heap.
#include "nccl.h"
#include "src/api/guard.h"
#include "src/api/handle.h"
#include "src/api/validate.h"
#include "src/core/shared_host_memory.h"
#include "src/device/device.h"

using namespace prism;
using namespace prism::api;

/// A registered window (ncclWindow_t points at one).
struct ncclWindow_vidmem {
  ncclComm* comm;
  void* handle;
  int flags;
};

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
    *ptr = shared_host_memory::allocate(size);
  });
}

ncclResult_t ncclMemFree(void* ptr) {
  return guard(nullptr, "ncclMemFree", [&] {
    if (!ptr || shared_host_memory::release(ptr)) return;
    check(device::sideOf(ptr) == device::Side::Device, ncclInvalidArgument,
          "pointer was not returned by ncclMemAlloc");
    device::release(ptr);
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
