/// SGD with momentum. Elementwise, so a ZeRO shard updated alone gives the same bits as
/// the same elements updated in the full tensor.
#pragma once

#include <cstddef>
#include <vector>

#include "train/model/param.h"

namespace prism::train {

/// mom = momentum * mom + g; w -= lr * mom, over n elements.
void sgdUpdate(float* w, const float* g, float* mom, size_t n, float lr, float momentum);

/// Momentum state for a list of parameters.
class Sgd {
 public:
  Sgd(float lr, float momentum) : lr_(lr), momentum_(momentum) {}
  void step(const std::vector<Param*>& params);

 private:
  float lr_, momentum_;
  std::vector<Vec> state_;
};

}  // namespace prism::train
