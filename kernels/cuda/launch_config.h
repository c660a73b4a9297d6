// Launch geometry and launch-error reporting shared by the CUDA element kernels.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace prism::kernels::detail {

/// Threads per block of every element kernel.
inline constexpr int kThreads = 512;
/// Resident blocks per SM the kernels are compiled for (__launch_bounds__): a full SM of
/// 2048 threads, which caps them at 32 registers.
inline constexpr int kBlocksPerSm = 2048 / kThreads;

/// Streaming multiprocessors of the current device, queried once per device.
int smCount();

/// Blocks for `work` items of one thread each: no more than are needed, and no more than
/// one wave of resident blocks on the current device (the kernels loop grid-stride).
unsigned gridFor(size_t work);

/// Throws prism::Error (ncclUnhandledCudaError) naming `what` if the launch just made failed.
void checkLaunch(const char* what);

}  // namespace prism::kernels::detail
