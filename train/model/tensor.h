/// Dense float32 helpers for the reference model: row-major matrices stored in
/// std::vector<float>, three matrix-product shapes (the ones forward and backward of a
/// linear layer need) and a seeded random generator. Every loop sums in a fixed order, so
/// the same inputs always give the same bits. The three products run on the calling
/// thread's MatmulBackend (model/matmul_backend.h) when one is installed and wants the
/// shape; a backend must give the same bits as these loops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace prism::train {

using Vec = std::vector<float>;

/// c[m,n] = a[m,k] * b[k,n], or += when `accumulate`. Per element: start from 0 (or c[i,j]),
/// add a[i,p]*b[p,j] for p ascending.
void matmul(const float* a, const float* b, float* c, int m, int k, int n, bool accumulate);
/// c[m,n] += a[m,k] * transpose(b[n,k]). Per element: sum a[i,p]*b[j,p] from 0 for p
/// ascending, then add the sum to c[i,j].
void matmulBt(const float* a, const float* b, float* c, int m, int k, int n);
/// c[k,n] += transpose(a[m,k]) * b[m,n]: the weight gradient of a linear layer. Per
/// element: start from c[p,j], add a[i,p]*b[i,j] for i ascending.
void matmulAt(const float* a, const float* b, float* c, int m, int k, int n);

/// y += x, elementwise.
void addInPlace(Vec& y, const Vec& x);

/// Deterministic random numbers (splitmix64): the same seed gives the same stream on every
/// rank and platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  /// Uniform in [0, 1).
  float uniform();
  /// Standard normal (Box-Muller).
  float normal();

 private:
  uint64_t state_;
};

/// Mixes several integers into one seed, so that (seed, step, sample) streams are disjoint.
uint64_t mixSeed(uint64_t a, uint64_t b, uint64_t c = 0);

}  // namespace prism::train
