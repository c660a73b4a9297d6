/// The feed-forward block: column-parallel fc1, GELU, row-parallel fc2, bias b2 added once
/// after the tensor-parallel reduction.
#pragma once

#include "train/model/config.h"
#include "train/model/hooks.h"
#include "train/model/layers.h"
#include "train/model/shard.h"

namespace prism::train {

struct Mlp {
  Param w1, b1, w2, b2;

  Mlp(const std::string& prefix, const ModelConfig& c, const ModelShard& s, Rng& rng);

  struct Cache {
    Vec xFull, pre, act;
  };
  void forward(Hooks& hooks, const Vec& x, Vec& y, Cache& c) const;
  void backward(Hooks& hooks, const Cache& c, const Vec& dy, Vec& dx);
};

}  // namespace prism::train
