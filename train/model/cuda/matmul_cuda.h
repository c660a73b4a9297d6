/// The reference model's matrix products on a CUDA GPU (prism-train --device cuda). Results
/// are bitwise equal to the CPU loops of tensor.h: one thread per output element sums in
/// the loops' order with correctly rounded multiplies and adds and no FMA. The host vectors
/// stay the model's storage: each product copies its operands in and the result out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "train/model/matmul_backend.h"

namespace prism::train {

/// A backend on the calling thread's current CUDA device, with its own stream and device
/// buffers (grown geometrically, reused across calls). One per rank: it is not thread-safe.
/// Throws std::runtime_error with the CUDA error string when CUDA fails, and "prism-train
/// was built without CUDA" in a build without it.
std::unique_ptr<MatmulBackend> makeCudaMatmulBackend();

/// Empty when makeCudaMatmulBackend can work here, else why not (no CUDA in the build, no
/// device, driver error). Tests skip with it.
std::string cudaMatmulUnavailableReason();

/// Products run on the GPU by every CUDA backend of this process so far.
uint64_t cudaMatmulOffloads();

}  // namespace prism::train
