// CUDA memory for the overlap helpers' buffers, through the CUDA runtime that
// prism_overlap links itself (libprism's stays hidden behind its C and C++ API). Builds
// without CUDA get device_memory_none.cc, whose memory is all host memory. Not part of
// prism_overlap's interface: the symbols stay local to the library.
#pragma once

#include <cstddef>
#include <string>

namespace prism::overlap::device {

/// Why Memory::Device cannot be used in this process ("" when it can): a build without
/// CUDA, or no device visible. Computed once.
const std::string& unavailableReason();
/// True for device (cudaMalloc, managed, a peer's mapping) memory.
bool isDevicePointer(const void* pointer);
/// cudaMalloc; throws CommError (ncclSystemError when out of memory).
void* allocate(size_t bytes);
/// cudaFree. Never throws: a failing free at teardown (driver shut down) is ignored.
void release(void* pointer) noexcept;
/// Sets `bytes` bytes to zero and waits until they are.
void zero(void* pointer, size_t bytes);
/// Copies between any two sides and waits until the data has arrived.
void copy(void* dst, const void* src, size_t bytes);

}  // namespace prism::overlap::device
