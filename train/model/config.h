/// The dimensions of the reference GPT model and of its training run.
#pragma once

#include <cstdint>
#include <string>

namespace prism::train {

struct ModelConfig {
  int layers = 4;
  int hidden = 64;
  int heads = 8;
  int vocab = 256;
  int seq = 32;
  int ffnMult = 4;   ///< MLP width = ffnMult * hidden
  bool moe = false;  ///< every block's MLP becomes a mixture of experts
  int experts = 8;
  int topK = 2;
  uint64_t seed = 1234;

  int ffn() const { return ffnMult * hidden; }
  int headDim() const { return hidden / heads; }
};

struct TrainConfig {
  int batch = 8;  ///< global batch, sequences per step
  int steps = 20;
  float lr = 0.05f;
  float momentum = 0.9f;
  uint64_t dataSeed = 99;
};

/// Throws std::invalid_argument naming the first violated constraint (heads dividing
/// hidden, topK <= experts, positive sizes).
void validate(const ModelConfig& config);

}  // namespace prism::train
