/// Causal multi-head self-attention, Megatron-style tensor parallel: q/k/v projections are
/// column-split (whole heads per rank), the output projection is row-split, and the output
/// bias is added once after the region's reduction.
#pragma once

#include "train/model/config.h"
#include "train/model/hooks.h"
#include "train/model/layers.h"
#include "train/model/shard.h"

namespace prism::train {

struct Attention {
  Param wq, bq, wk, bk, wv, bv, wo, bo;
  int localHeads = 1;
  int headDim = 1;

  Attention(const std::string& prefix, const ModelConfig& c, const ModelShard& s, Rng& rng);

  struct Cache {
    Vec xFull, q, k, v, out, lse;
    AttnShape shape;
  };
  /// x: this rank's token rows of `batch` sequences of `tokens` tokens each (before any
  /// sequence-parallel gather).
  void forward(Hooks& hooks, const Vec& x, int batch, int tokens, Vec& y, Cache& c) const;
  void backward(Hooks& hooks, const Cache& c, const Vec& dy, Vec& dx);
};

}  // namespace prism::train
