#include "base/dtype.h"

namespace prism {

const char* dataTypeName(DataType t) {
  switch (t) {
    case DataType::Int8:
      return "int8";
    case DataType::Uint8:
      return "uint8";
    case DataType::Int32:
      return "int32";
    case DataType::Uint32:
      return "uint32";
    case DataType::Int64:
      return "int64";
    case DataType::Uint64:
      return "uint64";
    case DataType::Float16:
      return "half";
    case DataType::Float32:
      return "float";
    case DataType::Float64:
      return "double";
    case DataType::Bfloat16:
      return "bfloat16";
    case DataType::Float8e4m3:
      return "f8e4m3";
    case DataType::Float8e5m2:
      return "f8e5m2";
  }
  // Values outside the enum arrive from the C API before validation; name them, not crash.
  return "unknown";
}

}  // namespace prism
