#include "train/model/gpt.h"

#include <cmath>

namespace prism::train {

Gpt::Gpt(const ModelConfig& config, const ModelShard& shard) : config_(config), shard_(shard) {
  validate(config_);
  if (shard_.lastLayer < 0) shard_.lastLayer = config_.layers;
  const int h = config_.hidden;
  if (shard_.embedding) {
    Rng rng(mixSeed(config_.seed, 0));
    embedding_ = Embedding{makeParam("tok_emb", config_.vocab, h, Split::None, 0, 1, rng, 0.1f),
                           makeParam("pos_emb", config_.seq, h, Split::None, 0, 1, rng, 0.1f)};
  }
  blocks_.reserve(shard_.lastLayer - shard_.firstLayer);
  for (int i = shard_.firstLayer; i < shard_.lastLayer; ++i) {
    Rng rng(mixSeed(config_.seed, 1 + i));
    blocks_.emplace_back(i, config_, shard_, rng);
  }
  if (shard_.head) {
    Rng rng(mixSeed(config_.seed, 1 + config_.layers));
    lnf_ = makeLayerNorm("lnf", h, rng);
    head_ = makeParam("lm_head", h, config_.vocab, Split::None, 0, 1, rng,
                      1.0f / std::sqrt(static_cast<float>(h)));
  }
}

Vec Gpt::forward(Hooks& hooks, const MicroBatch& mb, const Vec& input, Cache& c, double* lossSum) {
  Vec x;
  if (embedding_) {
    hooks.beforeGroup(0, false);
    embedding_->forward(mb.inputs, mb.positions, x);
    hooks.afterGroup(0, false);
  } else {
    x = input;
  }
  c.inputs.resize(blocks_.size());
  c.blocks.resize(blocks_.size());
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const int group = shard_.firstLayer + 1 + static_cast<int>(i);
    hooks.beforeGroup(group, false);
    c.inputs[i] = std::move(x);
    blocks_[i].forward(hooks, c.inputs[i], mb.sequences, mb.tokens, x, c.blocks[i]);
    hooks.afterGroup(group, false);
  }
  if (!head_) return x;
  const int group = config_.layers + 1;
  hooks.beforeGroup(group, false);
  lnf_->forward(x, c.hf, c.lnf);
  Vec logits;
  linearForward(c.hf, *head_, nullptr, logits);
  const double loss = crossEntropy(logits, mb.targets, config_.vocab, mb.lossScale, c.dlogits);
  if (lossSum) *lossSum += loss;
  hooks.afterGroup(group, false);
  return {};
}

Vec Gpt::backward(Hooks& hooks, const MicroBatch& mb, Cache& c, const Vec& dOutput) {
  Vec dx;
  if (head_) {
    const int group = config_.layers + 1;
    hooks.beforeGroup(group, true);
    Vec dhf;
    linearBackward(c.hf, c.dlogits, *head_, nullptr, &dhf);
    lnf_->backward(c.lnf, dhf, dx);
    hooks.afterGroup(group, true);
  } else {
    dx = dOutput;
  }
  for (size_t i = blocks_.size(); i-- > 0;) {
    const int group = shard_.firstLayer + 1 + static_cast<int>(i);
    hooks.beforeGroup(group, true);
    Vec dIn;
    blocks_[i].backward(hooks, c.blocks[i], dx, dIn);
    dx = std::move(dIn);
    hooks.afterGroup(group, true);
  }
  if (!embedding_) return dx;
  hooks.beforeGroup(0, true);
  embedding_->backward(mb.inputs, mb.positions, dx);
  hooks.afterGroup(0, true);
  return {};
}

std::vector<std::pair<int, std::vector<Param*>>> Gpt::groups() {
  std::vector<std::pair<int, std::vector<Param*>>> out;
  if (embedding_) out.push_back({0, {&embedding_->token, &embedding_->position}});
  for (size_t i = 0; i < blocks_.size(); ++i)
    out.push_back({shard_.firstLayer + 1 + static_cast<int>(i), blocks_[i].params()});
  if (head_) out.push_back({config_.layers + 1, {&lnf_->gamma, &lnf_->beta, &*head_}});
  return out;
}

std::vector<Param*> Gpt::params() {
  std::vector<Param*> out;
  for (auto& [id, ps] : groups()) out.insert(out.end(), ps.begin(), ps.end());
  return out;
}

void Gpt::zeroGrad() {
  for (Param* p : params()) p->zeroGrad();
}

}  // namespace prism::train
