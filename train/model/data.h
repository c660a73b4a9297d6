/// The synthetic data set: token streams with learnable structure (most tokens follow from
/// the previous one by a fixed affine map, the rest are noise), generated from
/// (seed, step, sample) alone so any rank can produce any sample.
#pragma once

#include <cstdint>
#include <vector>

#include "train/model/config.h"
#include "train/model/gpt.h"

namespace prism::train {

/// seq + 1 tokens of sample `sample` of step `step`.
std::vector<int> sampleTokens(uint64_t seed, int step, int sample, int seq, int vocab);

/// A micro-batch of whole sequences [first, first + count) of step `step`, as the
/// single-rank model sees it. lossScale is 1 / (globalBatch * seq).
MicroBatch makeMicroBatch(const ModelConfig& model, const TrainConfig& train, int step, int first,
                          int count);

}  // namespace prism::train
