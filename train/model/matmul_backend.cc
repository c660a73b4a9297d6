#include "train/model/matmul_backend.h"

#include <algorithm>

namespace prism::train {
namespace {
thread_local MatmulBackend* current = nullptr;
}  // namespace

bool worthOffloading(int m, int k, int n) {
  if (std::min({m, k, n}) < kMinOffloadDim) return false;
  return static_cast<int64_t>(m) * k * n >= kMinOffloadWork;
}

MatmulBackend* currentMatmulBackend() { return current; }

MatmulBackendGuard::MatmulBackendGuard(MatmulBackend* backend) : previous_(current) {
  current = backend;
}

MatmulBackendGuard::~MatmulBackendGuard() { current = previous_; }

}  // namespace prism::train
