// A kernel that keeps a stream busy for a given time, to observe whether a library call
// waits for the device or only enqueues work behind what is already on the stream.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace prism::test {

/// Enqueues one single-thread block on `stream` that busy-waits until `nanoseconds` of GPU
/// time (the global timer) have passed. Returns the launch error, if any.
cudaError_t launchSpin(cudaStream_t stream, uint64_t nanoseconds);

}  // namespace prism::test
