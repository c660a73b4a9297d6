/// Typed views and buffers of the overlap helpers: gradients and parameters of any NCCL
/// element type (bf16, fp16, float32, ...) in host or CUDA device memory. A view says how
/// many elements of which type lie where, so the helpers call Prism's collectives with the
/// element type the caller chose; float ranges (std::vector<float>, std::span<float>) are
/// views of ncclFloat32 without a cast.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "nccl.h"
#include "prism/comm.hpp"

namespace prism::overlap {

/// Where the helpers keep their buffers.
enum class Memory : uint8_t {
  Host,    ///< host memory
  Device,  ///< CUDA device memory of the current device (CommError without a GPU)
};

/// Bytes of one element of `type`: 2 for ncclBfloat16 and ncclFloat16, 4 for ncclFloat32.
/// Throws CommError(ncclInvalidArgument) for a value outside ncclDataType_t.
size_t elementSize(ncclDataType_t type);

/// The one NCCL type a C++ type stands for (float: ncclFloat32, double: ncclFloat64, the
/// fixed-width integers), or ncclNumTypes for types that only carry bits, such as the
/// uint16_t that holds a bf16 or fp16 value.
template <class T>
constexpr ncclDataType_t ncclTypeOf() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>) return ncclFloat32;
  if constexpr (std::is_same_v<U, double>) return ncclFloat64;
  if constexpr (std::is_same_v<U, int8_t>) return ncclInt8;
  if constexpr (std::is_same_v<U, int32_t>) return ncclInt32;
  if constexpr (std::is_same_v<U, int64_t>) return ncclInt64;
  if constexpr (std::is_same_v<U, uint32_t>) return ncclUint32;
  if constexpr (std::is_same_v<U, uint64_t>) return ncclUint64;
  return ncclNumTypes;
}

/// Throws CommError(ncclInvalidUsage) unless elements of `type` may be read as a C++ type
/// of `size` bytes that stands for `exact` (ncclTypeOf; ncclNumTypes: any type of that
/// size). What TensorView::as checks.
void requireElementType(ncclDataType_t type, size_t size, ncclDataType_t exact);

/// Ranges a view of ncclFloat32 elements is made from without a cast: what std::span<float>
/// (writable) or std::span<const float> (read-only) accepts.
template <class R>
concept FloatRange = std::is_constructible_v<std::span<float>, R &&>;
template <class R>
concept ConstFloatRange = std::is_constructible_v<std::span<const float>, R &&>;

/// `count` elements of `type` at `data`, on either side of the PCIe bus. Views of device
/// memory may only be handed to Prism, to CUDA or to copyTensor, never read on the host.
/// Like std::span, a view does not own its elements.
class TensorView {
 public:
  TensorView() = default;
  TensorView(void* data, size_t count, ncclDataType_t type)
      : data_(data), count_(count), type_(type) {}
  /// A float range (std::span<float>, std::vector<float>&) as ncclFloat32.
  template <FloatRange R>
  TensorView(R&& floats) {  // NOLINT(google-explicit-constructor): floats read as views
    std::span<float> s(std::forward<R>(floats));
    data_ = s.data();
    count_ = s.size();
  }

  void* data() const { return data_; }
  size_t count() const { return count_; }
  ncclDataType_t type() const { return type_; }
  size_t bytes() const { return count_ * elementSize(type_); }
  bool empty() const { return count_ == 0; }
  /// Elements [offset, offset + count). Throws CommError(ncclInvalidArgument) past the end.
  TensorView subview(size_t offset, size_t count) const {
    if (offset > count_ || count > count_ - offset)
      throw CommError(ncclInvalidArgument, "TensorView: elements [" + std::to_string(offset) +
                                               ", " + std::to_string(offset + count) + ") of " +
                                               std::to_string(count_));
    return {static_cast<std::byte*>(data_) + offset * elementSize(type_), count, type_};
  }
  TensorView first(size_t count) const { return subview(0, count); }
  /// The elements as T: float for ncclFloat32, uint16_t for the bits of bf16 and fp16.
  /// Throws CommError(ncclInvalidUsage) when T does not fit the element type.
  template <class T>
  std::span<T> as() const {
    requireElementType(type_, sizeof(T), ncclTypeOf<T>());
    return {static_cast<T*>(data_), count_};
  }

 private:
  void* data_ = nullptr;
  size_t count_ = 0;
  ncclDataType_t type_ = ncclFloat32;
};

/// A TensorView whose elements are only read (a copy's source, a send).
class ConstTensorView {
 public:
  ConstTensorView() = default;
  ConstTensorView(const void* data, size_t count, ncclDataType_t type)
      : data_(data), count_(count), type_(type) {}
  ConstTensorView(const TensorView& v)  // NOLINT(google-explicit-constructor)
      : data_(v.data()), count_(v.count()), type_(v.type()) {}
  /// A float range (std::span<const float>, const std::vector<float>&) as ncclFloat32.
  template <ConstFloatRange R>
  ConstTensorView(R&& floats) {  // NOLINT(google-explicit-constructor)
    std::span<const float> s(std::forward<R>(floats));
    data_ = s.data();
    count_ = s.size();
  }

  const void* data() const { return data_; }
  size_t count() const { return count_; }
  ncclDataType_t type() const { return type_; }
  size_t bytes() const { return count_ * elementSize(type_); }
  bool empty() const { return count_ == 0; }
  template <class T>
  std::span<const T> as() const {
    requireElementType(type_, sizeof(T), ncclTypeOf<T>());
    return {static_cast<const T*>(data_), count_};
  }

 private:
  const void* data_ = nullptr;
  size_t count_ = 0;
  ncclDataType_t type_ = ncclFloat32;
};

/// A fixed-size, zero-initialized array of `count` elements of `type` in host or device
/// memory, allocated once (bytes() = count * elementSize(type)). Movable, not copyable.
class Buffer {
 public:
  Buffer() = default;
  /// Throws CommError(ncclInvalidUsage) for Memory::Device where no CUDA device is usable
  /// (the message starts "device memory requested"), CommError(ncclSystemError) when the
  /// device is out of memory.
  Buffer(size_t count, ncclDataType_t type, Memory memory);
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  void* data() { return data_; }
  size_t count() const { return count_; }
  ncclDataType_t type() const { return type_; }
  size_t bytes() const { return count_ * elementSize(type_); }
  bool empty() const { return count_ == 0; }
  Memory memory() const { return memory_; }
  TensorView view() { return {data_, count_, type_}; }
  /// Sets every byte to 0 (+0.0 in the floating types).
  void zero();

 private:
  void* data_ = nullptr;
  size_t count_ = 0;
  ncclDataType_t type_ = ncclFloat32;
  Memory memory_ = Memory::Host;
};

/// Copies `src` into `dst` (same type and count), each on either side, and returns when
/// the data has arrived: cudaMemcpy from pageable memory may return before the DMA ends,
/// and a Comm's stream would not wait for it. Throws CommError(ncclInvalidArgument) on a
/// type or count mismatch and CommError(ncclUnhandledCudaError) when CUDA fails.
void copyTensor(TensorView dst, ConstTensorView src);

}  // namespace prism::overlap
