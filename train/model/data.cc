#include "train/model/data.h"

#include "train/model/tensor.h"

namespace prism::train {

std::vector<int> sampleTokens(uint64_t seed, int step, int sample, int seq, int vocab) {
  Rng rng(mixSeed(seed, static_cast<uint64_t>(step), static_cast<uint64_t>(sample)));
  std::vector<int> t(seq + 1);
  t[0] = static_cast<int>(rng.next() % vocab);
  for (int i = 1; i <= seq; ++i) {
    const bool noise = rng.next() % 4 == 0;
    t[i] = noise ? static_cast<int>(rng.next() % vocab) : (t[i - 1] * 5 + 3) % vocab;
  }
  return t;
}

MicroBatch makeMicroBatch(const ModelConfig& model, const TrainConfig& train, int step, int first,
                          int count) {
  MicroBatch mb;
  mb.sequences = count;
  mb.tokens = model.seq;
  mb.lossScale = 1.0f / static_cast<float>(train.batch * model.seq);
  for (int s = first; s < first + count; ++s) {
    const std::vector<int> t = sampleTokens(train.dataSeed, step, s, model.seq, model.vocab);
    for (int i = 0; i < model.seq; ++i) {
      mb.inputs.push_back(t[i]);
      mb.positions.push_back(i);
      mb.targets.push_back(t[i + 1]);
    }
  }
  return mb;
}

}  // namespace prism::train
