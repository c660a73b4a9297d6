// A build without CUDA: --device cuda fails with the reason when the trainer starts.
#include <stdexcept>

#include "train/model/cuda/matmul_cuda.h"

namespace prism::train {

namespace {
constexpr const char* kNoCuda = "prism-train was built without CUDA";
}  // namespace

std::unique_ptr<MatmulBackend> makeCudaMatmulBackend() { throw std::runtime_error(kNoCuda); }

std::string cudaMatmulUnavailableReason() { return kNoCuda; }

uint64_t cudaMatmulOffloads() { return 0; }

}  // namespace prism::train
