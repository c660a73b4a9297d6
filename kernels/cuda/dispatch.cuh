// Host-side dispatch from the runtime (DataType, ReduceOp) to the device codec and operator
// types, the CUDA counterpart of visitType/visitOp in kernels/host/reduce.cc.
#pragma once

#include <cstdint>
#include <string>

#include "base/dtype.h"
#include "base/error.h"
#include "kernels/cuda/element_ops.cuh"

namespace prism::kernels::device {

/// Calls fn(Codec{}) with the device codec for `type`.
template <typename Fn>
void visitCodec(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::Int8:
      return fn(NativeCodec<int8_t>{});
    case DataType::Uint8:
      return fn(NativeCodec<uint8_t>{});
    case DataType::Int32:
      return fn(NativeCodec<int32_t>{});
    case DataType::Uint32:
      return fn(NativeCodec<uint32_t>{});
    case DataType::Int64:
      return fn(NativeCodec<int64_t>{});
    case DataType::Uint64:
      return fn(NativeCodec<uint64_t>{});
    case DataType::Float16:
      return fn(HalfCodec{});
    case DataType::Float32:
      return fn(NativeCodec<float>{});
    case DataType::Float64:
      return fn(NativeCodec<double>{});
    case DataType::Bfloat16:
      return fn(Bf16Codec{});
    case DataType::Float8e4m3:
      return fn(E4m3Codec{});
    case DataType::Float8e5m2:
      return fn(E5m2Codec{});
  }
  throw Error(ncclInvalidArgument, "unknown data type " + std::to_string(static_cast<int>(type)));
}

/// Calls fn(Op{}) with the device operator for `op`.
template <typename Fn>
void visitOp(ReduceOp op, Fn&& fn) {
  switch (op) {
    case ReduceOp::Sum:
      return fn(SumOp{});
    case ReduceOp::Prod:
      return fn(ProdOp{});
    case ReduceOp::Max:
      return fn(MaxOp{});
    case ReduceOp::Min:
      return fn(MinOp{});
  }
  throw Error(ncclInvalidArgument, "unknown reduce op " + std::to_string(static_cast<int>(op)));
}

}  // namespace prism::kernels::device
