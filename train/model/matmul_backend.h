/// Where the reference model's matrix products run. The three products of tensor.h
/// (matmul, matmulBt, matmulAt) dispatch to the calling thread's current backend when one
/// is installed and it wants the shape; otherwise they run the CPU loops. Thread ranks of
/// one process each install their own backend, so the current backend is thread-local.
#pragma once

#include <cstdint>

namespace prism::train {

/// A matrix-product engine with the shapes and semantics of tensor.h. Implementations must
/// give the same bits as the CPU loops (same per-element summation order, no FMA), so that
/// a run's losses do not depend on where its products ran.
class MatmulBackend {
 public:
  virtual ~MatmulBackend() = default;
  /// Short name for logs ("cuda").
  virtual const char* name() const = 0;
  /// Whether a product of this shape should run here; the CPU loops run the others.
  virtual bool wants(int m, int k, int n) const = 0;
  /// c[m,n] = a[m,k] * b[k,n], or += when `accumulate`.
  virtual void matmul(const float* a, const float* b, float* c, int m, int k, int n,
                      bool accumulate) = 0;
  /// c[m,n] += a[m,k] * transpose(b[n,k]).
  virtual void matmulBt(const float* a, const float* b, float* c, int m, int k, int n) = 0;
  /// c[k,n] += transpose(a[m,k]) * b[m,n].
  virtual void matmulAt(const float* a, const float* b, float* c, int m, int k, int n) = 0;
};

/// Products smaller than this many multiply-adds stay on the CPU: an offload pays a fixed
/// ~20-40 us (copies in, a launch, a copy out, a stream synchronize), which is what the
/// CPU loops need for about 32k multiply-adds.
constexpr int64_t kMinOffloadWork = 32768;
/// Nor is a product offloaded when a dimension is below this: with one row (MoE's per-token
/// expert calls) or one column the product is a matrix-vector one, which reads each copied
/// weight once, so the copy alone costs more than the CPU loop.
constexpr int kMinOffloadDim = 8;

/// The default `wants` rule: m*k*n >= kMinOffloadWork and every dimension >= kMinOffloadDim.
bool worthOffloading(int m, int k, int n);

/// The calling thread's backend, or nullptr (CPU loops).
MatmulBackend* currentMatmulBackend();

/// Installs `backend` (nullptr: the CPU loops) as the calling thread's backend for the
/// guard's lifetime and restores the previous one when it ends. Guards nest.
class MatmulBackendGuard {
 public:
  explicit MatmulBackendGuard(MatmulBackend* backend);
  ~MatmulBackendGuard();
  MatmulBackendGuard(const MatmulBackendGuard&) = delete;
  MatmulBackendGuard& operator=(const MatmulBackendGuard&) = delete;

 private:
  MatmulBackend* previous_;
};

}  // namespace prism::train
