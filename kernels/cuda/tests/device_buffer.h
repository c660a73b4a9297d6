// Test helpers for the CUDA kernel tests: device detection, a device buffer, and the
// random element patterns that the host and device kernels are compared on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/dtype.h"

namespace prism::kernels::testing {

/// Empty when a CUDA device is usable; otherwise "no CUDA device: <reason>".
std::string cudaUnavailableReason();

/// cudaMalloc'ed bytes, freed on destruction; every call checks its CUDA result.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  /// Base pointer plus a byte offset.
  void* at(size_t offset) const { return static_cast<char*>(ptr_) + offset; }
  void upload(size_t offset, const std::vector<uint8_t>& bytes);
  std::vector<uint8_t> download(size_t offset, size_t bytes) const;
  /// Sets every byte to `value`, so that unwritten output is visible.
  void fill(uint8_t value);

 private:
  void* ptr_ = nullptr;
  size_t bytes_;
};

/// Waits for the default stream and fails the test on a pending CUDA error.
void syncDevice();

/// `count` random elements of `type` as raw bytes. Floating types mix uniformly random bit
/// patterns with inf, NaN (quiet and signalling, random payloads), zeros, subnormals and
/// the largest finite values.
std::vector<uint8_t> randomElements(DataType type, size_t count, std::mt19937_64& rng);

/// Like randomElements, but about a third of the elements are near `other`'s (same
/// exponent, or negated), so that sums cancel and round at every magnitude.
std::vector<uint8_t> relatedElements(DataType type, const std::vector<uint8_t>& other,
                                     std::mt19937_64& rng);

/// Empty if `got` equals `want` bit for bit, or else equals `alt` (a host result computed
/// with the operands swapped: both NaN, the host's pick depends on its compiler) where
/// `alt` is non-empty. Otherwise describes the first mismatches.
std::string compareElements(DataType type, const std::vector<uint8_t>& got,
                            const std::vector<uint8_t>& want, const std::vector<uint8_t>& alt);

}  // namespace prism::kernels::testing
