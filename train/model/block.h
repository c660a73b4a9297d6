/// One pre-norm transformer block: x + attn(ln1(x)), then + mlp(ln2(.)) (or a mixture of
/// experts in place of the MLP).
#pragma once

#include <memory>
#include <optional>

#include "train/model/attention.h"
#include "train/model/mlp.h"
#include "train/model/moe.h"

namespace prism::train {

struct Block {
  LayerNorm ln1, ln2;
  Attention attn;
  std::optional<Mlp> mlp;
  std::optional<Moe> moe;

  Block(int index, const ModelConfig& c, const ModelShard& s, Rng& rng);

  struct Cache {
    LayerNorm::Cache ln1, ln2;
    Attention::Cache attn;
    Mlp::Cache mlp;
    Moe::Cache moe;
    Vec h1, h2;
  };
  void forward(Hooks& hooks, const Vec& x, int batch, int tokens, Vec& y, Cache& c) const;
  void backward(Hooks& hooks, const Cache& c, const Vec& dy, Vec& dx);
  std::vector<Param*> params();
};

/// A LayerNorm of `width` with gamma 1 and beta 0.
LayerNorm makeLayerNorm(const std::string& name, int width, Rng& rng);

}  // namespace prism::train
