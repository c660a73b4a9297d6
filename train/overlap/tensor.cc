// Element sizes, Buffer and copyTensor: the helpers' storage on either side of the bus.
#include "train/overlap/tensor.hpp"

#include <cstring>
#include <new>

#include "base/dtype.h"
#include "train/overlap/device_memory.h"

namespace prism::overlap {

namespace {

std::string typeName(ncclDataType_t type) { return "ncclDataType_t " + std::to_string(type); }

}  // namespace

size_t elementSize(ncclDataType_t type) {
  if (type >= 0 && type < kNumDataTypes) return dataTypeSize(static_cast<DataType>(type));
  throw CommError(ncclInvalidArgument, "unknown element type " + typeName(type));
}

void requireElementType(ncclDataType_t type, size_t size, ncclDataType_t exact) {
  const bool fits = exact == ncclNumTypes ? elementSize(type) == size : exact == type;
  if (!fits)
    throw CommError(
        ncclInvalidUsage,
        "a view of " + typeName(type) + " (" + std::to_string(elementSize(type)) +
            "-byte elements) read as " +
            (exact == ncclNumTypes ? std::to_string(size) + " bytes" : typeName(exact)));
}

Buffer::Buffer(size_t count, ncclDataType_t type, Memory memory)
    : count_(count), type_(type), memory_(memory) {
  const size_t n = bytes();  // checks the type before anything is allocated
  if (count == 0) return;
  if (memory == Memory::Device && !device::unavailableReason().empty())
    throw CommError(ncclInvalidUsage,
                    "device memory requested, but " + device::unavailableReason());
  if (memory == Memory::Host) {
    data_ = new std::byte[n]();
    return;
  }
  data_ = device::allocate(n);
  try {
    device::zero(data_, n);
  } catch (...) {
    device::release(data_);
    throw;
  }
}

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      count_(std::exchange(other.count_, 0)),
      type_(other.type_),
      memory_(other.memory_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    Buffer old(std::move(*this));
    data_ = std::exchange(other.data_, nullptr);
    count_ = std::exchange(other.count_, 0);
    type_ = other.type_;
    memory_ = other.memory_;
  }
  return *this;
}

Buffer::~Buffer() {
  if (data_ == nullptr) return;
  if (memory_ == Memory::Host) {
    delete[] static_cast<std::byte*>(data_);
    return;
  }
  device::release(data_);
}

void Buffer::zero() {
  if (count_ == 0) return;
  if (memory_ == Memory::Host) {
    std::memset(data_, 0, bytes());
    return;
  }
  device::zero(data_, bytes());
}

void copyTensor(TensorView dst, ConstTensorView src) {
  if (dst.type() != src.type() || dst.count() != src.count())
    throw CommError(ncclInvalidArgument,
                    "copyTensor: destination has " + std::to_string(dst.count()) + " elements of " +
                        typeName(dst.type()) + ", source " + std::to_string(src.count()) + " of " +
                        typeName(src.type()));
  if (src.empty() || dst.data() == src.data()) return;
  if (!device::isDevicePointer(dst.data()) && !device::isDevicePointer(src.data())) {
    std::memcpy(dst.data(), src.data(), src.bytes());
    return;
  }
  device::copy(dst.data(), src.data(), src.bytes());
}

}  // namespace prism::overlap
