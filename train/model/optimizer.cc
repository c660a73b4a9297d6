#include "train/model/optimizer.h"

namespace prism::train {

void sgdUpdate(float* w, const float* g, float* mom, size_t n, float lr, float momentum) {
  for (size_t i = 0; i < n; ++i) {
    mom[i] = momentum * mom[i] + g[i];
    w[i] -= lr * mom[i];
  }
}

void Sgd::step(const std::vector<Param*>& params) {
  if (state_.size() != params.size()) {
    state_.clear();
    for (Param* p : params) state_.emplace_back(p->size(), 0.0f);
  }
  for (size_t i = 0; i < params.size(); ++i)
    sgdUpdate(params[i]->w.data(), params[i]->g.data(), state_[i].data(), params[i]->size(), lr_,
              momentum_);
}

}  // namespace prism::train
