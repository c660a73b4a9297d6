#include "train/model/tensor.h"

#include <cmath>

#include "train/model/matmul_backend.h"

namespace prism::train {

namespace {

// The thread's backend when it takes this shape, else nullptr (run the loops below).
MatmulBackend* offloadTarget(int m, int k, int n) {
  MatmulBackend* backend = currentMatmulBackend();
  return backend && backend->wants(m, k, n) ? backend : nullptr;
}

}  // namespace

void matmul(const float* a, const float* b, float* c, int m, int k, int n, bool accumulate) {
  if (MatmulBackend* backend = offloadTarget(m, k, n))
    return backend->matmul(a, b, c, m, k, n, accumulate);
  for (int i = 0; i < m; ++i) {
    float* row = c + static_cast<size_t>(i) * n;
    if (!accumulate) {
      for (int j = 0; j < n; ++j) row[j] = 0.0f;
    }
    for (int p = 0; p < k; ++p) {
      const float av = a[static_cast<size_t>(i) * k + p];
      const float* brow = b + static_cast<size_t>(p) * n;
      for (int j = 0; j < n; ++j) row[j] += av * brow[j];
    }
  }
}

void matmulBt(const float* a, const float* b, float* c, int m, int k, int n) {
  if (MatmulBackend* backend = offloadTarget(m, k, n)) return backend->matmulBt(a, b, c, m, k, n);
  for (int i = 0; i < m; ++i) {
    const float* arow = a + static_cast<size_t>(i) * k;
    for (int j = 0; j < n; ++j) {
      const float* brow = b + static_cast<size_t>(j) * k;
      float sum = 0.0f;
      for (int p = 0; p < k; ++p) sum += arow[p] * brow[p];
      c[static_cast<size_t>(i) * n + j] += sum;
    }
  }
}

void matmulAt(const float* a, const float* b, float* c, int m, int k, int n) {
  if (MatmulBackend* backend = offloadTarget(m, k, n)) return backend->matmulAt(a, b, c, m, k, n);
  for (int i = 0; i < m; ++i) {
    const float* arow = a + static_cast<size_t>(i) * k;
    const float* brow = b + static_cast<size_t>(i) * n;
    for (int p = 0; p < k; ++p) {
      const float av = arow[p];
      float* crow = c + static_cast<size_t>(p) * n;
      for (int j = 0; j < n; ++j) crow[j] += av * brow[j];
    }
  }
}

void addInPlace(Vec& y, const Vec& x) {
  for (size_t i = 0; i < y.size(); ++i) y[i] += x[i];
}

uint64_t Rng::next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float Rng::uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }

float Rng::normal() {
  const double u1 = (static_cast<double>(next() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  const double u2 = static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

uint64_t mixSeed(uint64_t a, uint64_t b, uint64_t c) {
  Rng r(a * 0x100000001b3ULL ^ (b + 0x632be59bd9b4e019ULL) * 31 ^ (c + 7) * 0x9e3779b97f4a7c15ULL);
  return r.next();
}

}  // namespace prism::train
