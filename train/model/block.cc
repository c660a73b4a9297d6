#include "train/model/block.h"

namespace prism::train {

LayerNorm makeLayerNorm(const std::string& name, int width, Rng& rng) {
  return LayerNorm{makeParam(name + ".gamma", 1, width, Split::None, 0, 1, rng, 0.0f, 1.0f),
                   makeParam(name + ".beta", 1, width, Split::None, 0, 1, rng, 0.0f)};
}

Block::Block(int index, const ModelConfig& c, const ModelShard& s, Rng& rng)
    : ln1(makeLayerNorm("block" + std::to_string(index) + ".ln1", c.hidden, rng)),
      ln2(makeLayerNorm("block" + std::to_string(index) + ".ln2", c.hidden, rng)),
      attn("block" + std::to_string(index) + ".attn.", c, s, rng) {
  const std::string p = "block" + std::to_string(index) + ".";
  if (c.moe)
    moe.emplace(p + "moe.", c, s, rng);
  else
    mlp.emplace(p + "mlp.", c, s, rng);
}

void Block::forward(Hooks& hooks, const Vec& x, int batch, int tokens, Vec& y, Cache& c) const {
  Vec a, m;
  ln1.forward(x, c.h1, c.ln1);
  attn.forward(hooks, c.h1, batch, tokens, a, c.attn);
  addInPlace(a, x);  // a = x + attn(ln1(x))
  ln2.forward(a, c.h2, c.ln2);
  if (moe)
    moe->forward(hooks, c.h2, m, c.moe);
  else
    mlp->forward(hooks, c.h2, m, c.mlp);
  addInPlace(m, a);
  y = std::move(m);
}

void Block::backward(Hooks& hooks, const Cache& c, const Vec& dy, Vec& dx) {
  Vec dh2, da, dh1;
  if (moe)
    moe->backward(hooks, c.moe, dy, dh2);
  else
    mlp->backward(hooks, c.mlp, dy, dh2);
  ln2.backward(c.ln2, dh2, da);
  addInPlace(da, dy);
  attn.backward(hooks, c.attn, da, dh1);
  ln1.backward(c.ln1, dh1, dx);
  addInPlace(dx, da);
}

std::vector<Param*> Block::params() {
  std::vector<Param*> ps{&ln1.gamma, &ln1.beta, &attn.wq, &attn.bq, &attn.wk,   &attn.bk,
                         &attn.wv,   &attn.bv,  &attn.wo, &attn.bo, &ln2.gamma, &ln2.beta};
  if (mlp) {
    for (Param* p : {&mlp->w1, &mlp->b1, &mlp->w2, &mlp->b2}) ps.push_back(p);
  } else {
    ps.push_back(&moe->router);
    for (Expert& e : moe->local)
      for (Param* p : {&e.w1, &e.b1, &e.w2, &e.b2}) ps.push_back(p);
  }
  return ps;
}

}  // namespace prism::train
