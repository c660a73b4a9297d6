#include "train/model/mlp.h"

#include <cmath>

namespace prism::train {

Mlp::Mlp(const std::string& p, const ModelConfig& c, const ModelShard& s, Rng& rng) {
  const int h = c.hidden, f = c.ffn();
  w1 = makeParam(p + "w1", h, f, Split::Cols, s.tpRank, s.tp, rng,
                 1.0f / std::sqrt(static_cast<float>(h)));
  b1 = makeParam(p + "b1", 1, f, Split::Cols, s.tpRank, s.tp, rng, 0.0f);
  w2 = makeParam(p + "w2", f, h, Split::Rows, s.tpRank, s.tp, rng,
                 1.0f / std::sqrt(static_cast<float>(f) * 2.0f * c.layers));
  b2 = makeParam(p + "b2", 1, h, Split::None, 0, 1, rng, 0.0f);
}

void Mlp::forward(Hooks& hooks, const Vec& x, Vec& y, Cache& c) const {
  const int h = w1.rows;
  hooks.enterForward(x, c.xFull, h);
  linearForward(c.xFull, w1, &b1, c.pre);
  geluForward(c.pre, c.act);
  Vec partial;
  linearForward(c.act, w2, nullptr, partial);
  hooks.exitForward(partial, y, h);
  addBias(y, b2);
}

void Mlp::backward(Hooks& hooks, const Cache& c, const Vec& dy, Vec& dx) {
  const int h = w1.rows;
  biasBackward(dy, b2);
  Vec dpartial, dact, dpre, dxFull;
  hooks.exitBackward(dy, dpartial, h);
  linearBackward(c.act, dpartial, w2, nullptr, &dact);
  geluBackward(c.pre, dact, dpre);
  linearBackward(c.xFull, dpre, w1, &b1, &dxFull);
  hooks.enterBackward(dxFull, dx, h);
}

}  // namespace prism::train
