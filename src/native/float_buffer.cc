// FloatBuffer and copyFloats: the overlap hooks' buffers on either side of the PCIe bus.
#include <cstring>
#include <new>
#include <prism/overlap.hpp>
#include <string>
#include <utility>

#include "core/error.h"
#include "device/device.h"
#include "native/device_stream.h"
#include "native/translated.h"

namespace prism {

namespace {

#if PRISM_HAVE_CUDA
constexpr bool kBuiltWithCuda = true;
#else
constexpr bool kBuiltWithCuda = false;
#endif

}  // namespace

FloatBuffer::FloatBuffer(size_t count, Memory memory) : size_(count), memory_(memory) {
  if (count == 0) return;
  const size_t bytes = count * sizeof(float);
  if (memory == Memory::Host) {
    data_ = new float[count]();
    return;
  }
  if (!device::available())
    throw CommError(ncclInvalidUsage, std::string("device memory requested, but ") +
                                          (kBuiltWithCuda ? "this process sees no CUDA device"
                                                          : "Prism was built without CUDA"));
  native::translated([&] {
    data_ = static_cast<float*>(device::allocate(bytes));
    try {
      native::zeroDeviceBytes(data_, bytes);
    } catch (...) {
      device::release(data_);
      data_ = nullptr;
      throw;
    }
  });
}

FloatBuffer::FloatBuffer(FloatBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      memory_(other.memory_) {}

FloatBuffer& FloatBuffer::operator=(FloatBuffer&& other) noexcept {
  if (this != &other) {
    FloatBuffer old(std::move(*this));
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    memory_ = other.memory_;
  }
  return *this;
}

FloatBuffer::~FloatBuffer() {
  if (data_ == nullptr) return;
  if (memory_ == Memory::Host) {
    delete[] data_;
    return;
  }
  try {
    device::release(data_);
  } catch (...) {
    // A failing cudaFree at teardown (driver shut down) must not terminate the program.
  }
}

void FloatBuffer::zero() {
  if (size_ == 0) return;
  if (memory_ == Memory::Host) {
    std::memset(data_, 0, size_ * sizeof(float));
    return;
  }
  native::translated([&] { native::zeroDeviceBytes(data_, size_ * sizeof(float)); });
}

void copyFloats(std::span<float> dst, std::span<const float> src) {
  if (dst.size() != src.size())
    throw CommError(ncclInvalidArgument, "copyFloats: destination has " +
                                             std::to_string(dst.size()) + " floats, source " +
                                             std::to_string(src.size()));
  if (src.empty() || dst.data() == src.data()) return;
  const size_t bytes = src.size() * sizeof(float);
  if (!device::available() || (device::sideOf(dst.data()) == device::Side::Host &&
                               device::sideOf(src.data()) == device::Side::Host)) {
    std::memcpy(dst.data(), src.data(), bytes);
    return;
  }
  native::translated([&] { native::copyAnyBytes(dst.data(), src.data(), bytes); });
}

}  // namespace prism
