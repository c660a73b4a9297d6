// Finite-difference checks of every layer's backward pass: each layer's output is dotted
// with a fixed random tensor R, so d(sum y*R)/dy = R, and the analytic gradients of the
// inputs and parameters are compared with central differences.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "train/model/attention.h"
#include "train/model/data.h"
#include "train/model/gpt.h"
#include "train/model/layers.h"
#include "train/model/mlp.h"
#include "train/model/moe.h"

namespace prism::train {
namespace {

ModelConfig tiny(bool moe = false) {
  ModelConfig c;
  c.layers = 2;
  c.hidden = 8;
  c.heads = 2;
  c.vocab = 11;
  c.seq = 6;
  c.ffnMult = 2;
  c.moe = moe;
  c.experts = 4;
  c.topK = 2;
  return c;
}

Vec randomVec(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  Vec v(n);
  for (float& x : v) x = rng.normal() * scale;
  return v;
}

double dotWith(const Vec& y, const Vec& r) {
  double s = 0.0;
  for (size_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * r[i];
  return s;
}

// Compares `analytic` with central differences of `loss` over (up to 24 entries of) `x`.
void expectGradient(const std::string& what, Vec& x, const Vec& analytic,
                    const std::function<double()>& loss, float eps = 1e-2f) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  const size_t stride = std::max<size_t>(1, x.size() / 24);
  for (size_t i = 0; i < x.size(); i += stride) {
    const float saved = x[i];
    x[i] = saved + eps;
    const double up = loss();
    x[i] = saved - eps;
    const double down = loss();
    x[i] = saved;
    const double fd = (up - down) / (2.0 * eps);
    EXPECT_NEAR(analytic[i], fd, 2e-3 + 2e-2 * std::fabs(fd)) << what << "[" << i << "]";
  }
}

void expectParamGradients(const std::vector<Param*>& params, const std::function<double()>& loss,
                          float eps = 1e-2f) {
  for (Param* p : params) expectGradient(p->name, p->w, p->g, loss, eps);
}

TEST(ModelGrad, Linear) {
  Rng rng(1);
  Param w = makeParam("w", 5, 3, Split::None, 0, 1, rng, 0.5f);
  Param b = makeParam("b", 1, 3, Split::None, 0, 1, rng, 0.5f);
  Vec x = randomVec(4 * 5, 2), r = randomVec(4 * 3, 3), y, dx;
  linearForward(x, w, &b, y);
  linearBackward(x, r, w, &b, &dx);
  auto loss = [&] {
    Vec out;
    linearForward(x, w, &b, out);
    return dotWith(out, r);
  };
  expectGradient("x", x, dx, loss);
  expectParamGradients({&w, &b}, loss);
}

TEST(ModelGrad, LayerNorm) {
  Rng rng(4);
  LayerNorm ln{makeParam("gamma", 1, 8, Split::None, 0, 1, rng, 0.3f, 0.0f),
               makeParam("beta", 1, 8, Split::None, 0, 1, rng, 0.3f)};
  for (float& g : ln.gamma.w) g += 1.0f;
  Vec x = randomVec(3 * 8, 5), r = randomVec(3 * 8, 6), y, dx;
  LayerNorm::Cache c;
  ln.forward(x, y, c);
  ln.backward(c, r, dx);
  auto loss = [&] {
    Vec out;
    LayerNorm::Cache cc;
    ln.forward(x, out, cc);
    return dotWith(out, r);
  };
  expectGradient("x", x, dx, loss);
  expectParamGradients({&ln.gamma, &ln.beta}, loss);
}

TEST(ModelGrad, Gelu) {
  Vec x = randomVec(30, 7, 2.0f), r = randomVec(30, 8), y, dx;
  geluForward(x, y);
  geluBackward(x, r, dx);
  expectGradient("x", x, dx, [&] {
    Vec out;
    geluForward(x, out);
    return dotWith(out, r);
  });
}

TEST(ModelGrad, Embedding) {
  Rng rng(9);
  Embedding e{makeParam("tok", 11, 4, Split::None, 0, 1, rng, 0.5f),
              makeParam("pos", 6, 4, Split::None, 0, 1, rng, 0.5f)};
  const std::vector<int> tokens{3, 3, 10, 0, 7}, positions{0, 1, 2, 3, 5};
  Vec r = randomVec(5 * 4, 10), y;
  e.backward(tokens, positions, r);
  expectParamGradients({&e.token, &e.position}, [&] {
    Vec out;
    e.forward(tokens, positions, out);
    return dotWith(out, r);
  });
}

TEST(ModelGrad, CrossEntropy) {
  Vec logits = randomVec(4 * 11, 11), d;
  const std::vector<int> targets{1, 10, 0, 5};
  crossEntropy(logits, targets, 11, 0.25f, d);
  expectGradient("logits", logits, d, [&] {
    Vec unused;
    return crossEntropy(logits, targets, 11, 0.25f, unused) * 0.25;
  });
}

TEST(ModelGrad, CausalAttention) {
  const ModelConfig c = tiny();
  Rng rng(12);
  Attention attn("attn.", c, ModelShard{}, rng);
  for (Param* p : {&attn.bq, &attn.bk, &attn.bv, &attn.bo})
    for (float& x : p->w) x = rng.normal() * 0.2f;
  std::vector<int> pos(c.seq);
  for (int i = 0; i < c.seq; ++i) pos[i] = i;
  Hooks hooks(pos);
  const int batch = 2;
  Vec x = randomVec(batch * c.seq * c.hidden, 13), r = randomVec(x.size(), 14), y, dx;
  Attention::Cache cache;
  attn.forward(hooks, x, batch, c.seq, y, cache);
  attn.backward(hooks, cache, r, dx);
  auto loss = [&] {
    Vec out;
    Attention::Cache cc;
    attn.forward(hooks, x, batch, c.seq, out, cc);
    return dotWith(out, r);
  };
  expectGradient("x", x, dx, loss);
  expectParamGradients(
      {&attn.wq, &attn.bq, &attn.wk, &attn.bk, &attn.wv, &attn.bv, &attn.wo, &attn.bo}, loss);
}

TEST(ModelGrad, AttentionIsCausal) {
  // Changing a later token must not change an earlier token's output.
  const ModelConfig c = tiny();
  Rng rng(15);
  Attention attn("attn.", c, ModelShard{}, rng);
  std::vector<int> pos(c.seq);
  for (int i = 0; i < c.seq; ++i) pos[i] = i;
  Hooks hooks(pos);
  Vec x = randomVec(c.seq * c.hidden, 16), y1, y2;
  Attention::Cache cache;
  attn.forward(hooks, x, 1, c.seq, y1, cache);
  for (int i = 0; i < c.hidden; ++i) x[(c.seq - 1) * c.hidden + i] += 1.0f;
  attn.forward(hooks, x, 1, c.seq, y2, cache);
  for (int i = 0; i < (c.seq - 1) * c.hidden; ++i) EXPECT_EQ(y1[i], y2[i]) << i;
}

TEST(ModelGrad, BlockwiseAttentionEqualsOneBlock) {
  // The online softmax over key blocks (what ring attention does) gives the result of
  // attending to all keys at once, for queries at arbitrary positions.
  const AttnShape whole{2, 4, 8, 2, 3};
  AttnShape half = whole;
  half.tk = 4;
  const std::vector<int> qpos{1, 6, 2, 7}, kpos{0, 1, 2, 3, 4, 5, 6, 7};
  Vec q = randomVec(whole.qSize(), 30), k = randomVec(whole.kSize(), 31),
      v = randomVec(whole.kSize(), 32);
  // Split keys into positions 0-3 and 4-7, per sequence.
  Vec k0, k1, v0, v1;
  const size_t row = whole.heads * whole.dh;
  for (int b = 0; b < 2; ++b)
    for (int j = 0; j < 8; ++j) {
      auto src = k.begin() + (b * 8 + j) * row;
      auto vsrc = v.begin() + (b * 8 + j) * row;
      (j < 4 ? k0 : k1).insert((j < 4 ? k0 : k1).end(), src, src + row);
      (j < 4 ? v0 : v1).insert((j < 4 ? v0 : v1).end(), vsrc, vsrc + row);
    }
  AttnState one, two;
  attnBegin(whole, one);
  attnAccumulate(whole, q.data(), k.data(), v.data(), qpos.data(), kpos.data(), one);
  attnBegin(half, two);
  attnAccumulate(half, q.data(), k1.data(), v1.data(), qpos.data(), kpos.data() + 4, two);
  attnAccumulate(half, q.data(), k0.data(), v0.data(), qpos.data(), kpos.data(), two);
  Vec out1, lse1, out2, lse2;
  attnFinish(whole, one, out1, lse1);
  attnFinish(half, two, out2, lse2);
  for (size_t i = 0; i < out1.size(); ++i) EXPECT_NEAR(out1[i], out2[i], 1e-5f) << i;
  for (size_t i = 0; i < lse1.size(); ++i) EXPECT_NEAR(lse1[i], lse2[i], 1e-5f) << i;
}

TEST(ModelGrad, Mlp) {
  const ModelConfig c = tiny();
  Rng rng(17);
  Mlp mlp("mlp.", c, ModelShard{}, rng);
  for (Param* p : {&mlp.b1, &mlp.b2})
    for (float& x : p->w) x = rng.normal() * 0.2f;
  Hooks hooks({0});
  Vec x = randomVec(5 * c.hidden, 18), r = randomVec(x.size(), 19), y, dx;
  Mlp::Cache cache;
  mlp.forward(hooks, x, y, cache);
  mlp.backward(hooks, cache, r, dx);
  auto loss = [&] {
    Vec out;
    Mlp::Cache cc;
    mlp.forward(hooks, x, out, cc);
    return dotWith(out, r);
  };
  expectGradient("x", x, dx, loss);
  expectParamGradients({&mlp.w1, &mlp.b1, &mlp.w2, &mlp.b2}, loss);
}

TEST(ModelGrad, MixtureOfExperts) {
  const ModelConfig c = tiny(true);
  Rng rng(20);
  Moe moe("moe.", c, ModelShard{}, rng);
  for (float& x : moe.router.w) x *= 3.0f;  // clear top-2 margins: FD must not flip a choice
  Hooks hooks({0});
  Vec x = randomVec(6 * c.hidden, 21), r = randomVec(x.size(), 22), y, dx;
  Moe::Cache cache;
  moe.forward(hooks, x, y, cache);
  moe.backward(hooks, cache, r, dx);
  auto loss = [&] {
    Vec out;
    Moe::Cache cc;
    moe.forward(hooks, x, out, cc);
    return dotWith(out, r);
  };
  expectGradient("x", x, dx, loss);
  std::vector<Param*> ps{&moe.router};
  for (Expert& e : moe.local)
    for (Param* p : {&e.w1, &e.b1, &e.w2, &e.b2}) ps.push_back(p);
  expectParamGradients(ps, loss);
}

TEST(ModelGrad, TopExpertsBreaksTiesTowardLowerIndex) {
  const float probs[] = {0.1f, 0.3f, 0.3f, 0.3f};
  EXPECT_EQ(topExperts(probs, 4, 2), (std::vector<int>{1, 2}));
  const float flat[] = {0.25f, 0.25f, 0.25f, 0.25f};
  EXPECT_EQ(topExperts(flat, 4, 2), (std::vector<int>{0, 1}));
}

void checkWholeModel(bool moe) {
  const ModelConfig c = tiny(moe);
  TrainConfig t;
  t.batch = 2;
  Gpt gpt(c, ModelShard{});
  const MicroBatch mb = makeMicroBatch(c, t, 0, 0, t.batch);
  Hooks hooks(makeMicroBatch(c, t, 0, 0, 1).positions);
  gpt.zeroGrad();
  Gpt::Cache cache;
  double loss = 0.0;
  gpt.forward(hooks, mb, {}, cache, &loss);
  gpt.backward(hooks, mb, cache, {});
  EXPECT_GT(loss, 0.0);
  expectParamGradients(
      gpt.params(),
      [&] {
        Gpt::Cache cc;
        double l = 0.0;
        gpt.forward(hooks, mb, {}, cc, &l);
        return l * mb.lossScale;
      },
      // A smaller step with experts: a large one can flip a top-2 choice.
      moe ? 1e-3f : 1e-2f);
}

TEST(ModelGrad, WholeModel) { checkWholeModel(false); }
TEST(ModelGrad, WholeModelWithExperts) { checkWholeModel(true); }

}  // namespace
}  // namespace prism::train
