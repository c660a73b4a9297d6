// The matrix-product dispatch of tensor.cc: with no backend the CPU loops run; a thread's
// backend gets exactly the products its `wants` accepts; backends are per thread and
// guards restore the previous one. The test double records each call and computes with its
// own loops (in double), and every result is checked against an independent reference.
// Operands are small integers, so every summation order gives the same exact floats.
#include <gtest/gtest.h>

#include <barrier>
#include <optional>
#include <thread>
#include <vector>

#include "train/model/matmul_backend.h"
#include "train/model/tensor.h"

namespace prism::train {
namespace {

enum class Kind { Plain, Bt, At };

struct Call {
  Kind kind;
  int m, k, n;
  bool accumulate;
  bool operator==(const Call&) const = default;
};

// Element (i, j) of a row-major matrix with `cols` columns.
float at(const std::vector<float>& x, int cols, int i, int j) {
  return x[static_cast<size_t>(i) * cols + j];
}

class RecordingBackend : public MatmulBackend {
 public:
  std::vector<Call> calls;

  const char* name() const override { return "recording"; }
  bool wants(int m, int k, int n) const override { return worthOffloading(m, k, n); }

  void matmul(const float* a, const float* b, float* c, int m, int k, int n,
              bool accumulate) override {
    calls.push_back({Kind::Plain, m, k, n, accumulate});
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double sum = accumulate ? c[i * n + j] : 0.0;
        for (int p = 0; p < k; ++p) sum += double(a[i * k + p]) * b[p * n + j];
        c[i * n + j] = static_cast<float>(sum);
      }
  }
  void matmulBt(const float* a, const float* b, float* c, int m, int k, int n) override {
    calls.push_back({Kind::Bt, m, k, n, true});
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double sum = c[i * n + j];
        for (int p = 0; p < k; ++p) sum += double(a[i * k + p]) * b[j * k + p];
        c[i * n + j] = static_cast<float>(sum);
      }
  }
  void matmulAt(const float* a, const float* b, float* c, int m, int k, int n) override {
    calls.push_back({Kind::At, m, k, n, true});
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < n; ++j) {
        double sum = c[p * n + j];
        for (int i = 0; i < m; ++i) sum += double(a[i * k + p]) * b[i * n + j];
        c[p * n + j] = static_cast<float>(sum);
      }
  }
};

// Small integers in [-3, 3]: products and sums of a few thousand of them are exact floats.
std::vector<float> integers(size_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(count);
  for (float& x : v) x = static_cast<float>(static_cast<int>(rng.next() % 7) - 3);
  return v;
}

// One product of each kind on fresh operands, checked element by element against sums
// written out here; `plainAccumulate` picks matmul's mode.
void expectProducts(int m, int k, int n, bool plainAccumulate) {
  const std::vector<float> a = integers(size_t(m) * k, 1), b = integers(size_t(k) * n, 2);
  const std::vector<float> bt = integers(size_t(n) * k, 3), bm = integers(size_t(m) * n, 4);
  const std::vector<float> c0 = integers(size_t(m) * n, 5), ck = integers(size_t(k) * n, 6);
  std::vector<float> plain = c0, withBt = c0, withAt = ck;
  matmul(a.data(), b.data(), plain.data(), m, k, n, plainAccumulate);
  matmulBt(a.data(), bt.data(), withBt.data(), m, k, n);
  matmulAt(a.data(), bm.data(), withAt.data(), m, k, n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      long sum = plainAccumulate ? long(at(c0, n, i, j)) : 0, sumBt = long(at(c0, n, i, j));
      for (int p = 0; p < k; ++p) {
        sum += long(at(a, k, i, p)) * long(at(b, n, p, j));
        sumBt += long(at(a, k, i, p)) * long(at(bt, k, j, p));
      }
      ASSERT_EQ(at(plain, n, i, j), float(sum)) << "matmul " << i << "," << j;
      ASSERT_EQ(at(withBt, n, i, j), float(sumBt)) << "matmulBt " << i << "," << j;
    }
  for (int p = 0; p < k; ++p)
    for (int j = 0; j < n; ++j) {
      long sum = long(at(ck, n, p, j));
      for (int i = 0; i < m; ++i) sum += long(at(a, k, i, p)) * long(at(bm, n, i, j));
      ASSERT_EQ(at(withAt, n, p, j), float(sum)) << "matmulAt " << p << "," << j;
    }
}

TEST(MatmulBackend, WorthOffloadingThreshold) {
  EXPECT_TRUE(worthOffloading(32, 32, 32));  // 32768 multiply-adds
  EXPECT_TRUE(worthOffloading(8, 64, 64));
  EXPECT_TRUE(worthOffloading(64, 256, 768));
  EXPECT_FALSE(worthOffloading(31, 32, 32));     // 31744
  EXPECT_FALSE(worthOffloading(1, 1024, 4096));  // MoE's one-row products
  EXPECT_FALSE(worthOffloading(4096, 1024, 7));  // one dimension under kMinOffloadDim
  EXPECT_FALSE(worthOffloading(1024, 7, 4096));
  EXPECT_FALSE(worthOffloading(0, 1024, 1024));
  EXPECT_TRUE(worthOffloading(46341, 46341, 46341));  // no int overflow in m*k*n
}

TEST(MatmulBackend, NoBackendRunsTheCpuLoops) {
  ASSERT_EQ(currentMatmulBackend(), nullptr);
  expectProducts(33, 17, 40, false);
  expectProducts(33, 17, 40, true);
}

TEST(MatmulBackend, DispatchesTheShapesItWants) {
  RecordingBackend backend;
  {
    MatmulBackendGuard guard(&backend);
    EXPECT_EQ(currentMatmulBackend(), &backend);
    expectProducts(32, 32, 40, false);  // wanted: three calls
    expectProducts(32, 32, 40, true);   // wanted: three calls
    expectProducts(1, 64, 256, true);   // one row: the CPU loops
    expectProducts(20, 20, 20, false);  // 8000 multiply-adds: the CPU loops
  }
  const std::vector<Call> want{{Kind::Plain, 32, 32, 40, false}, {Kind::Bt, 32, 32, 40, true},
                               {Kind::At, 32, 32, 40, true},     {Kind::Plain, 32, 32, 40, true},
                               {Kind::Bt, 32, 32, 40, true},     {Kind::At, 32, 32, 40, true}};
  EXPECT_EQ(backend.calls, want);
  EXPECT_EQ(currentMatmulBackend(), nullptr);
}

TEST(MatmulBackend, GuardsNestAndRestore) {
  RecordingBackend outer, inner;
  std::vector<float> a = integers(32 * 32, 7), b = integers(32 * 32, 8), c(32 * 32);
  auto product = [&] { matmul(a.data(), b.data(), c.data(), 32, 32, 32, false); };
  {
    MatmulBackendGuard first(&outer);
    product();
    {
      MatmulBackendGuard second(&inner);
      EXPECT_EQ(currentMatmulBackend(), &inner);
      product();
      product();
      {
        MatmulBackendGuard cpu(nullptr);  // forces the CPU loops
        EXPECT_EQ(currentMatmulBackend(), nullptr);
        product();
      }
      EXPECT_EQ(currentMatmulBackend(), &inner);
    }
    EXPECT_EQ(currentMatmulBackend(), &outer);
    product();
  }
  EXPECT_EQ(currentMatmulBackend(), nullptr);
  product();
  EXPECT_EQ(outer.calls.size(), 2u);
  EXPECT_EQ(inner.calls.size(), 2u);
}

TEST(MatmulBackend, BackendIsPerThread) {
  RecordingBackend backend;
  std::barrier both(2);
  int withCalls = 0;
  bool otherSawNone = false;
  auto work = [&](bool install) {
    std::optional<MatmulBackendGuard> guard;
    if (install) guard.emplace(&backend);
    both.arrive_and_wait();  // both threads run their products while the guard is alive
    if (!install) otherSawNone = currentMatmulBackend() == nullptr;
    for (int round = 0; round < 5; ++round) expectProducts(16, 16, 128, round % 2 == 1);
    both.arrive_and_wait();
    if (install) withCalls = static_cast<int>(backend.calls.size());
  };
  std::thread with(work, true), without(work, false);
  with.join();
  without.join();
  EXPECT_TRUE(otherSawNone);
  EXPECT_EQ(withCalls, 15);  // only the installing thread's 5 x 3 products
  EXPECT_EQ(backend.calls.size(), 15u);
  EXPECT_EQ(currentMatmulBackend(), nullptr);
}

}  // namespace
}  // namespace prism::train
