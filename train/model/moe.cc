#include "train/model/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace prism::train {

std::vector<int> topExperts(const float* probs, int experts, int k) {
  std::vector<int> idx(experts);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return probs[a] > probs[b]; });
  idx.resize(k);
  return idx;
}

Moe::Moe(const std::string& p, const ModelConfig& c, const ModelShard& s, Rng& rng)
    : experts(c.experts), topK(c.topK) {
  const int h = c.hidden, f = c.ffn();
  router = makeParam(p + "router", h, experts, Split::None, 0, 1, rng,
                     1.0f / std::sqrt(static_cast<float>(h)));
  const int perRank = experts / s.ep;
  firstExpert = s.epRank * perRank;
  for (int e = 0; e < experts; ++e) {
    // Draw every expert on every rank so the random stream stays aligned, keep our own.
    const std::string n = p + "expert" + std::to_string(e) + ".";
    Expert ex{
        makeParam(n + "w1", h, f, Split::None, 0, 1, rng, 1.0f / std::sqrt(static_cast<float>(h))),
        makeParam(n + "b1", 1, f, Split::None, 0, 1, rng, 0.0f),
        makeParam(n + "w2", f, h, Split::None, 0, 1, rng,
                  1.0f / std::sqrt(static_cast<float>(f) * 2.0f * c.layers)),
        makeParam(n + "b2", 1, h, Split::None, 0, 1, rng, 0.0f)};
    if (e >= firstExpert && e < firstExpert + perRank) {
      for (Param* q : {&ex.w1, &ex.b1, &ex.w2, &ex.b2}) q->expert = true;
      local.push_back(std::move(ex));
    }
  }
}

void Moe::forward(Hooks& hooks, const Vec& x, Vec& y, Cache& c) const {
  const int h = router.rows;
  const size_t n = x.size() / h;
  c.x = x;
  Vec logits;
  linearForward(x, router, nullptr, logits);
  c.probs.resize(logits.size());
  c.chosen.resize(n * topK);
  for (size_t r = 0; r < n; ++r) {
    float* pr = c.probs.data() + r * experts;
    const float* lr = logits.data() + r * experts;
    const float m = *std::max_element(lr, lr + experts);
    float sum = 0.0f;
    for (int e = 0; e < experts; ++e) sum += (pr[e] = std::exp(lr[e] - m));
    for (int e = 0; e < experts; ++e) pr[e] /= sum;
    const std::vector<int> top = topExperts(pr, experts, topK);
    std::copy(top.begin(), top.end(), c.chosen.begin() + r * topK);
  }
  Vec rows(n * topK * h);
  for (size_t r = 0; r < n * topK; ++r)
    std::copy_n(x.begin() + (r / topK) * h, h, rows.begin() + r * h);
  c.plan = hooks.planExperts(c.chosen, experts);
  hooks.toExperts(c.plan, rows, c.at, h);
  const size_t m = c.plan.localExpert.size();
  const int f = local.empty() ? 0 : local[0].w1.cols;
  c.pre.assign(m * f, 0.0f);
  Vec out(m * h, 0.0f);
  for (size_t r = 0; r < m; ++r) {
    const Expert& e = local[c.plan.localExpert[r]];
    float* pre = c.pre.data() + r * f;
    matmul(c.at.data() + r * h, e.w1.w.data(), pre, 1, h, f, false);
    for (int j = 0; j < f; ++j) pre[j] += e.b1.w[j];
  }
  geluForward(c.pre, c.act);
  for (size_t r = 0; r < m; ++r) {
    const Expert& e = local[c.plan.localExpert[r]];
    matmul(c.act.data() + r * f, e.w2.w.data(), out.data() + r * h, 1, f, h, false);
    for (int j = 0; j < h; ++j) out[r * h + j] += e.b2.w[j];
  }
  hooks.fromExperts(c.plan, out, c.outRows, h);
  y.assign(n * h, 0.0f);
  for (size_t r = 0; r < n * topK; ++r) {
    const float g = c.probs[(r / topK) * experts + c.chosen[r]];
    for (int j = 0; j < h; ++j) y[(r / topK) * h + j] += g * c.outRows[r * h + j];
  }
}

void Moe::backward(Hooks& hooks, const Cache& c, const Vec& dy, Vec& dx) {
  const int h = router.rows;
  const size_t n = dy.size() / h;
  Vec dRows(n * topK * h), dProbs(n * experts, 0.0f);
  for (size_t r = 0; r < n * topK; ++r) {
    const size_t t = r / topK;
    const float g = c.probs[t * experts + c.chosen[r]];
    float dg = 0.0f;
    for (int j = 0; j < h; ++j) {
      dRows[r * h + j] = g * dy[t * h + j];
      dg += dy[t * h + j] * c.outRows[r * h + j];
    }
    dProbs[t * experts + c.chosen[r]] = dg;
  }
  Vec dAt;
  hooks.toExperts(c.plan, dRows, dAt, h);
  const size_t m = c.plan.localExpert.size();
  const int f = local.empty() ? 0 : local[0].w1.cols;
  Vec dAct(m * f, 0.0f), dPre, dIn(m * h, 0.0f);
  for (size_t r = 0; r < m; ++r) {
    Expert& e = local[c.plan.localExpert[r]];
    matmulAt(c.act.data() + r * f, dAt.data() + r * h, e.w2.g.data(), 1, f, h);
    for (int j = 0; j < h; ++j) e.b2.g[j] += dAt[r * h + j];
    matmulBt(dAt.data() + r * h, e.w2.w.data(), dAct.data() + r * f, 1, h, f);
  }
  geluBackward(c.pre, dAct, dPre);
  for (size_t r = 0; r < m; ++r) {
    Expert& e = local[c.plan.localExpert[r]];
    matmulAt(c.at.data() + r * h, dPre.data() + r * f, e.w1.g.data(), 1, h, f);
    for (int j = 0; j < f; ++j) e.b1.g[j] += dPre[r * f + j];
    matmulBt(dPre.data() + r * f, e.w1.w.data(), dIn.data() + r * h, 1, f, h);
  }
  Vec dxRows;
  hooks.fromExperts(c.plan, dIn, dxRows, h);
  // Softmax backward of the router: dlogit = p * (dp - sum(p * dp)).
  Vec dLogits(n * experts);
  for (size_t t = 0; t < n; ++t) {
    float s = 0.0f;
    for (int e = 0; e < experts; ++e) s += c.probs[t * experts + e] * dProbs[t * experts + e];
    for (int e = 0; e < experts; ++e)
      dLogits[t * experts + e] = c.probs[t * experts + e] * (dProbs[t * experts + e] - s);
  }
  linearBackward(c.x, dLogits, router, nullptr, &dx);
  for (size_t r = 0; r < n * topK; ++r)
    for (int j = 0; j < h; ++j) dx[(r / topK) * h + j] += dxRows[r * h + j];
}

}  // namespace prism::train
