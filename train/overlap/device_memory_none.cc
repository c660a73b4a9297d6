// Device memory in a build without CUDA: none to allocate, and every pointer is host
// memory.
#include <cstring>

#include "prism/comm.hpp"
#include "train/overlap/device_memory.h"

namespace prism::overlap::device {

namespace {

[[noreturn]] void noCuda() {
  throw CommError(ncclInvalidUsage, "device memory in a build without CUDA");
}

}  // namespace

const std::string& unavailableReason() {
  static const std::string reason = "prism_overlap was built without CUDA";
  return reason;
}

bool isDevicePointer(const void*) { return false; }
void* allocate(size_t) { noCuda(); }
void release(void*) noexcept {}
void zero(void*, size_t) { noCuda(); }
void copy(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

}  // namespace prism::overlap::device
