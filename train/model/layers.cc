#include "train/model/layers.h"

#include <cmath>

namespace prism::train {
namespace {
constexpr float kEps = 1e-5f;
constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
}  // namespace

void linearForward(const Vec& x, const Param& w, const Param* b, Vec& y) {
  const int n = static_cast<int>(x.size() / w.rows);
  y.resize(static_cast<size_t>(n) * w.cols);
  matmul(x.data(), w.w.data(), y.data(), n, w.rows, w.cols, false);
  if (b) addBias(y, *b);
}

void linearBackward(const Vec& x, const Vec& dy, Param& w, Param* b, Vec* dx) {
  const int n = static_cast<int>(x.size() / w.rows);
  matmulAt(x.data(), dy.data(), w.g.data(), n, w.rows, w.cols);
  if (b) biasBackward(dy, *b);
  if (dx) {
    dx->assign(static_cast<size_t>(n) * w.rows, 0.0f);
    matmulBt(dy.data(), w.w.data(), dx->data(), n, w.cols, w.rows);
  }
}

void biasBackward(const Vec& dy, Param& b) {
  const size_t width = b.w.size();
  for (size_t i = 0; i < dy.size(); ++i) b.g[i % width] += dy[i];
}

void addBias(Vec& y, const Param& b) {
  const size_t width = b.w.size();
  for (size_t i = 0; i < y.size(); ++i) y[i] += b.w[i % width];
}

void LayerNorm::forward(const Vec& x, Vec& y, Cache& c) const {
  const size_t h = gamma.w.size();
  const size_t n = x.size() / h;
  y.resize(x.size());
  c.xhat.resize(x.size());
  c.rstd.resize(n);
  for (size_t r = 0; r < n; ++r) {
    const float* xr = x.data() + r * h;
    float mean = 0.0f;
    for (size_t i = 0; i < h; ++i) mean += xr[i];
    mean /= static_cast<float>(h);
    float var = 0.0f;
    for (size_t i = 0; i < h; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<float>(h);
    const float rstd = 1.0f / std::sqrt(var + kEps);
    c.rstd[r] = rstd;
    for (size_t i = 0; i < h; ++i) {
      const float xh = (xr[i] - mean) * rstd;
      c.xhat[r * h + i] = xh;
      y[r * h + i] = xh * gamma.w[i] + beta.w[i];
    }
  }
}

void LayerNorm::backward(const Cache& c, const Vec& dy, Vec& dx) {
  const size_t h = gamma.w.size();
  const size_t n = dy.size() / h;
  dx.resize(dy.size());
  for (size_t r = 0; r < n; ++r) {
    float sumD = 0.0f, sumDx = 0.0f;
    for (size_t i = 0; i < h; ++i) {
      const float g = dy[r * h + i];
      gamma.g[i] += g * c.xhat[r * h + i];
      beta.g[i] += g;
      const float d = g * gamma.w[i];
      sumD += d;
      sumDx += d * c.xhat[r * h + i];
    }
    const float inv = 1.0f / static_cast<float>(h);
    for (size_t i = 0; i < h; ++i) {
      const float d = dy[r * h + i] * gamma.w[i];
      dx[r * h + i] = c.rstd[r] * (d - inv * sumD - c.xhat[r * h + i] * inv * sumDx);
    }
  }
}

void Embedding::forward(const std::vector<int>& tokens, const std::vector<int>& positions,
                        Vec& y) const {
  const size_t h = token.cols;
  y.resize(tokens.size() * h);
  for (size_t r = 0; r < tokens.size(); ++r)
    for (size_t i = 0; i < h; ++i)
      y[r * h + i] = token.w[tokens[r] * h + i] + position.w[positions[r] * h + i];
}

void Embedding::backward(const std::vector<int>& tokens, const std::vector<int>& positions,
                         const Vec& dy) {
  const size_t h = token.cols;
  for (size_t r = 0; r < tokens.size(); ++r)
    for (size_t i = 0; i < h; ++i) {
      token.g[tokens[r] * h + i] += dy[r * h + i];
      position.g[positions[r] * h + i] += dy[r * h + i];
    }
}

void geluForward(const Vec& x, Vec& y) {
  y.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + std::tanh(kGeluC * (v + 0.044715f * v * v * v)));
  }
}

void geluBackward(const Vec& x, const Vec& dy, Vec& dx) {
  dx.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    const float t = std::tanh(kGeluC * (v + 0.044715f * v * v * v));
    const float dt = (1.0f - t * t) * kGeluC * (1.0f + 3.0f * 0.044715f * v * v);
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * dt);
  }
}

double crossEntropy(const Vec& logits, const std::vector<int>& targets, int vocab, float scale,
                    Vec& dlogits) {
  dlogits.resize(logits.size());
  double loss = 0.0;
  for (size_t r = 0; r < targets.size(); ++r) {
    const float* lr = logits.data() + r * vocab;
    float maxv = lr[0];
    for (int j = 1; j < vocab; ++j) maxv = std::max(maxv, lr[j]);
    float sum = 0.0f;
    for (int j = 0; j < vocab; ++j) sum += std::exp(lr[j] - maxv);
    const float logSum = std::log(sum) + maxv;
    loss += static_cast<double>(logSum - lr[targets[r]]);
    for (int j = 0; j < vocab; ++j) {
      const float p = std::exp(lr[j] - logSum);
      dlogits[r * vocab + j] = (p - (j == targets[r] ? 1.0f : 0.0f)) * scale;
    }
  }
  return loss;
}

}  // namespace prism::train
