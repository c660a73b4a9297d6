// --mem device: cudaMalloc'd buffers on device rank % deviceCount and a non-blocking
// stream per rank, plus CUDA graph capture for -G. The CUDA code is compiled only where
// the build has CUDA (PRISM_BENCH_CUDA); elsewhere these report that it is missing.
#pragma once

#include <memory>
#include <string>

#include "perf/bench/rank_memory.h"

namespace prism::bench {

/// True when this prism-bench was built with CUDA.
bool cudaCompiledIn();

/// The device memory of `rank`: selects device rank % deviceCount on the calling thread
/// and creates the rank's stream. Throws SetupError without CUDA or without a device.
std::unique_ptr<RankMemory> createDeviceMemory(int rank);

/// --mem ncclmem where ncclMemAlloc returns device memory: the same as device memory
/// but allocated through ncclMemAlloc. Null where it returns host memory (or there is no
/// device), for which the host implementation is right.
std::unique_ptr<RankMemory> createNcclDeviceMemory(int rank);

/// Counts CUDA devices in a short-lived forked child, so that this process never
/// initializes CUDA: a CUDA context does not survive fork, and the ranks are forked
/// after this. Returns the count (0: none), or -1 with the reason in `error`.
int probeDeviceCount(std::string& error);

}  // namespace prism::bench
