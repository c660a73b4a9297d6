#include "tests/harness/dtype_traits.h"

#include <stdexcept>
#include <string>

namespace prism::test {

const DtypeInfo& dtypeInfo(ncclDataType_t type) {
  static const DtypeInfo kInfo[12] = {
      {ncclInt8, "int8", 1, ElementKind::Signed, {}},
      {ncclUint8, "uint8", 1, ElementKind::Unsigned, {}},
      {ncclInt32, "int32", 4, ElementKind::Signed, {}},
      {ncclUint32, "uint32", 4, ElementKind::Unsigned, {}},
      {ncclInt64, "int64", 8, ElementKind::Signed, {}},
      {ncclUint64, "uint64", 8, ElementKind::Unsigned, {}},
      {ncclFloat16, "float16", 2, ElementKind::Float, kHalfFormat},
      {ncclFloat32, "float32", 4, ElementKind::Float, kFloat32Format},
      {ncclFloat64, "float64", 8, ElementKind::Float, kFloat64Format},
      {ncclBfloat16, "bfloat16", 2, ElementKind::Float, kBfloat16Format},
      {ncclFloat8e4m3, "f8e4m3", 1, ElementKind::Float, kE4m3Format},
      {ncclFloat8e5m2, "f8e5m2", 1, ElementKind::Float, kE5m2Format},
  };
  const int index = static_cast<int>(type);
  if (index < 0 || index >= 12) {
    throw std::invalid_argument("not an NCCL data type: " + std::to_string(index));
  }
  return kInfo[index];
}

}  // namespace prism::test
