// The few CUDA runtime calls the native API needs for device operations: a stream per
// Comm and an event per operation. Without CUDA they are never reached (no buffer is
// device memory) and throw if they are.
#pragma once

#include <cstddef>

namespace prism::native {

/// Makes `device` current on the calling thread (the progress thread serves communicators
/// on several devices). No-op for -1.
void useDevice(int device);
/// A non-blocking stream on `device` (a cudaStream_t).
void* createStream(int device);
void destroyStream(void* stream);
/// Creates an event (timing disabled) and records it on `stream`.
void* recordEvent(void* stream);
/// True when every work recorded before `event` has finished; throws prism::Error if the
/// device reported a failure.
bool eventDone(void* event);
void destroyEvent(void* event);
/// Orders `stream` after `event` without blocking the host.
void streamWaitEvent(void* stream, void* event);
/// Sets `bytes` of device memory to zero; returns when done.
void zeroDeviceBytes(void* pointer, size_t bytes);
/// Copies `bytes` between any two buffers (host or device); returns when the data has
/// arrived, including the DMA of a copy from pageable host memory.
void copyAnyBytes(void* dst, const void* src, size_t bytes);

}  // namespace prism::native
