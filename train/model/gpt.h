/// The GPT model, or the pipeline stage of it that one rank holds: token and position
/// embedding, a range of transformer blocks, final LayerNorm and the LM head with the
/// cross-entropy loss. Every rank draws each component from its own seeded stream, so any
/// shard of the model equals the same slice of the full model.
#pragma once

#include <utility>
#include <vector>

#include "train/model/block.h"

namespace prism::train {

/// The tokens one rank computes on for one micro-batch.
struct MicroBatch {
  int sequences = 1;           ///< sequences in the micro-batch
  int tokens = 1;              ///< tokens per sequence on this rank (after context split)
  std::vector<int> inputs;     ///< this rank's token rows (embedding stage)
  std::vector<int> positions;  ///< their global positions
  std::vector<int> targets;    ///< next tokens (head stage)
  float lossScale = 1.0f;      ///< 1 / tokens in the global batch
};

class Gpt {
 public:
  Gpt(const ModelConfig& config, const ModelShard& shard);

  struct Cache {
    std::vector<Vec> inputs;  ///< input of each block
    std::vector<Block::Cache> blocks;
    LayerNorm::Cache lnf;
    Vec hf, dlogits;
  };
  /// Runs this stage. `input` is the previous stage's output (ignored on the first stage).
  /// Returns this stage's output, or nothing on the last stage, where `lossSum` receives
  /// the summed token losses.
  Vec forward(Hooks& hooks, const MicroBatch& mb, const Vec& input, Cache& cache, double* lossSum);
  /// Returns the gradient for the previous stage (nothing on the first stage).
  Vec backward(Hooks& hooks, const MicroBatch& mb, Cache& cache, const Vec& dOutput);

  /// Parameter groups present here, by global group id (see Hooks::beforeGroup).
  std::vector<std::pair<int, std::vector<Param*>>> groups();
  std::vector<Param*> params();
  void zeroGrad();

  const ModelConfig& config() const { return config_; }
  const ModelShard& shard() const { return shard_; }

 private:
  ModelConfig config_;
  ModelShard shard_;
  std::optional<Embedding> embedding_;
  std::vector<Block> blocks_;
  std::optional<LayerNorm> lnf_;
  std::optional<Param> head_;
};

}  // namespace prism::train
