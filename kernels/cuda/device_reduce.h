// CUDA element kernels: the reducer and copier the executor plugs in for device memory.
// Plain C++ (no CUDA syntax), so host code calls them without nvcc.
//
// Every function enqueues one kernel on `stream` and returns without waiting. Results are
// bit-identical to the host kernels in kernels/host/reduce.h for every input (integer
// wrap-around, round to nearest even for narrow floats, fp8 saturation, the host's NaN
// rules); tests/device_reduce_test.cc checks this. Pointers are device-accessible (device,
// managed or a peer's mapped memory) and naturally aligned for `type`; any other
// alignment is fine. Destinations may alias a source exactly, not partially. A failed
// launch throws prism::Error (ncclUnhandledCudaError); so does an unknown type or op
// (ncclInvalidArgument). count == 0 launches nothing.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "base/dtype.h"

namespace prism::kernels {

/// dst[i] = a[i] (op) b[i] for i < count.
void launchReduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count,
                  cudaStream_t stream);

/// dst1[i] = dst2[i] = a[i] (op) b[i]: one pass that both keeps a reduced chunk and
/// stages it for the next peer (the RecvReduceSend step). dst2 may be null.
void launchReduceCopy(DataType type, ReduceOp op, void* dst1, void* dst2, const void* a,
                      const void* b, size_t count, cudaStream_t stream);

/// dst[0, bytes) = src[0, bytes), with a kernel (so that it also runs on peer pointers and
/// overlaps other kernels the way a copy engine transfer might not).
void launchCopy(void* dst, const void* src, size_t bytes, cudaStream_t stream);

/// dst1 = dst2 = src over `bytes`, in one read of src (the RecvCopySend step).
void launchDualCopy(void* dst1, void* dst2, const void* src, size_t bytes, cudaStream_t stream);

/// dst[i] = src[i] * scalar (PreMulSum). `scalar` points to one element of `type` in host
/// memory; it is read before this returns. Narrow floats multiply in float.
void launchScale(DataType type, void* dst, const void* src, const void* scalar, size_t count,
                 cudaStream_t stream);

/// dst[i] = src[i] / divisor (ncclAvg's last step), divisor > 0. Integers truncate toward
/// zero; narrow floats and Float32 divide in float, Float64 in double.
void launchDivide(DataType type, void* dst, const void* src, int divisor, size_t count,
                  cudaStream_t stream);

}  // namespace prism::kernels
