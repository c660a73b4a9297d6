// Shared parameters of the CUDA kernel tests: the sizes and pointer offsets every kernel is
// run with, and the fixture that skips when there is no CUDA device.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "kernels/cuda/tests/device_buffer.h"

namespace prism {

inline const char* opName(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "Sum";
    case ReduceOp::Prod:
      return "Prod";
    case ReduceOp::Max:
      return "Max";
    case ReduceOp::Min:
      return "Min";
  }
  return "unknown";
}

// GoogleTest prints parameters with these (found by ADL), so CTest names read
// "GetParam() = (float, Sum)" instead of raw bytes.
inline void PrintTo(DataType type, std::ostream* os) { *os << dataTypeName(type); }
inline void PrintTo(ReduceOp op, std::ostream* os) { *os << opName(op); }

}  // namespace prism

namespace prism::kernels::testing {

inline constexpr DataType kAllTypes[] = {
    DataType::Int8,    DataType::Uint8,    DataType::Int32,      DataType::Uint32,
    DataType::Int64,   DataType::Uint64,   DataType::Float16,    DataType::Float32,
    DataType::Float64, DataType::Bfloat16, DataType::Float8e4m3, DataType::Float8e5m2};

/// Element counts: one element, less than a vector, odd sizes around vector boundaries, and
/// one larger than a full wave of the grid.
inline const std::vector<size_t> kSizes = {1, 7, 4099, (size_t{1} << 20) + 3};

/// Byte offsets of the operands from a 256-byte-aligned allocation. `inPlace`: dst is a.
struct Layout {
  size_t a;
  size_t b;
  size_t dst;
  bool inPlace;
};

/// Aligned; equal misalignments (vector middle, scalar head and tail); mixed misalignments
/// (scalar path); in place. Offsets stay multiples of the element size.
inline std::vector<Layout> layoutsFor(size_t elemSize) {
  size_t s = elemSize;
  return {{0, 0, 0, false},      {s, s, s, false}, {16 - s, 16 - s, 16 - s, false},
          {0, s, 16 - s, false}, {s, 0, 0, false}, {16 - s, 16 - s, 16 - s, true}};
}

/// Skips the test, with the reason, when no CUDA device can be used.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = cudaUnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

template <typename Param>
class CudaParamTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    std::string reason = cudaUnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

}  // namespace prism::kernels::testing
