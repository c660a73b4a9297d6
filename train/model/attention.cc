#include "train/model/attention.h"

#include <cmath>

namespace prism::train {

Attention::Attention(const std::string& p, const ModelConfig& c, const ModelShard& s, Rng& rng)
    : localHeads(c.heads / s.tp), headDim(c.headDim()) {
  const int h = c.hidden;
  const float scale = 1.0f / std::sqrt(static_cast<float>(h));
  wq = makeParam(p + "wq", h, h, Split::Cols, s.tpRank, s.tp, rng, scale);
  bq = makeParam(p + "bq", 1, h, Split::Cols, s.tpRank, s.tp, rng, 0.0f);
  wk = makeParam(p + "wk", h, h, Split::Cols, s.tpRank, s.tp, rng, scale);
  bk = makeParam(p + "bk", 1, h, Split::Cols, s.tpRank, s.tp, rng, 0.0f);
  wv = makeParam(p + "wv", h, h, Split::Cols, s.tpRank, s.tp, rng, scale);
  bv = makeParam(p + "bv", 1, h, Split::Cols, s.tpRank, s.tp, rng, 0.0f);
  wo = makeParam(p + "wo", h, h, Split::Rows, s.tpRank, s.tp, rng,
                 scale / std::sqrt(2.0f * c.layers));
  bo = makeParam(p + "bo", 1, h, Split::None, 0, 1, rng, 0.0f);
}

void Attention::forward(Hooks& hooks, const Vec& x, int batch, int tokens, Vec& y, Cache& c) const {
  const int h = wq.rows;
  hooks.enterForward(x, c.xFull, h);
  linearForward(c.xFull, wq, &bq, c.q);
  linearForward(c.xFull, wk, &bk, c.k);
  linearForward(c.xFull, wv, &bv, c.v);
  c.shape = AttnShape{batch, tokens, tokens, localHeads, headDim};
  hooks.attentionForward(c.shape, c.q, c.k, c.v, c.out, c.lse);
  Vec partial;
  linearForward(c.out, wo, nullptr, partial);
  hooks.exitForward(partial, y, h);
  addBias(y, bo);
}

void Attention::backward(Hooks& hooks, const Cache& c, const Vec& dy, Vec& dx) {
  const int h = wq.rows;
  biasBackward(dy, bo);
  Vec dpartial, dout, dq, dk, dv;
  hooks.exitBackward(dy, dpartial, h);
  linearBackward(c.out, dpartial, wo, nullptr, &dout);
  hooks.attentionBackward(c.shape, c.q, c.k, c.v, c.out, c.lse, dout, dq, dk, dv);
  Vec dxFull, part;
  linearBackward(c.xFull, dq, wq, &bq, &dxFull);
  linearBackward(c.xFull, dk, wk, &bk, &part);
  addInPlace(dxFull, part);
  linearBackward(c.xFull, dv, wv, &bv, &part);
  addInPlace(dxFull, part);
  hooks.enterBackward(dxFull, dx, h);
}

}  // namespace prism::train
