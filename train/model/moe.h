/// Mixture of experts in place of the MLP: a softmax router over `experts` GELU MLPs, each
/// token sent to its top-k experts (ties broken toward the lower expert index) and the
/// expert outputs summed, weighted by their router probabilities. Under expert parallelism
/// a rank holds experts / ep experts and Hooks moves rows to and from their owners.
#pragma once

#include <vector>

#include "train/model/config.h"
#include "train/model/hooks.h"
#include "train/model/layers.h"
#include "train/model/shard.h"

namespace prism::train {

struct Expert {
  Param w1, b1, w2, b2;
};

/// Top-k experts of one row of router probabilities, best first; equal probabilities
/// prefer the lower index, so every rank picks the same experts for the same row.
std::vector<int> topExperts(const float* probs, int experts, int k);

struct Moe {
  Param router;  ///< [hidden, experts], replicated
  std::vector<Expert> local;
  int firstExpert = 0;
  int experts = 8;
  int topK = 2;

  Moe(const std::string& prefix, const ModelConfig& c, const ModelShard& s, Rng& rng);

  struct Cache {
    Vec x, probs, at, pre, act, outRows;
    std::vector<int> chosen;  ///< [rows * topK] global expert ids
    ExpertPlan plan;
  };
  void forward(Hooks& hooks, const Vec& x, Vec& y, Cache& c) const;
  void backward(Hooks& hooks, const Cache& c, const Vec& dy, Vec& dx);
};

}  // namespace prism::train
