// Element types and reduction operators as Prism sees them inside the library.
#pragma once

#include <cstddef>
#include <cstdint>

namespace prism {

/// The 12 NCCL element types; values equal ncclDataType_t.
enum class DataType : uint8_t {
  Int8 = 0,
  Uint8 = 1,
  Int32 = 2,
  Uint32 = 3,
  Int64 = 4,
  Uint64 = 5,
  Float16 = 6,
  Float32 = 7,
  Float64 = 8,
  Bfloat16 = 9,
  Float8e4m3 = 10,
  Float8e5m2 = 11,
};
inline constexpr int kNumDataTypes = 12;

/// Element reductions the kernels implement. NCCL's Avg is Sum followed by a divide of
/// the finished value, and PreMulSum is Sum over inputs scaled as they are first read.
enum class ReduceOp : uint8_t { Sum, Prod, Max, Min };

constexpr size_t dataTypeSize(DataType t) {
  switch (t) {
    case DataType::Int8:
    case DataType::Uint8:
    case DataType::Float8e4m3:
    case DataType::Float8e5m2:
      return 1;
    case DataType::Float16:
    case DataType::Bfloat16:
      return 2;
    case DataType::Int32:
    case DataType::Uint32:
    case DataType::Float32:
      return 4;
    case DataType::Int64:
    case DataType::Uint64:
    case DataType::Float64:
      return 8;
  }
  return 0;
}

/// nccl-tests' short names: int8, uint8, int32, uint32, int64, uint64, half, float, double,
/// bfloat16, f8e4m3, f8e5m2.
const char* dataTypeName(DataType t);

}  // namespace prism
