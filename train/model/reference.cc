#include "train/model/reference.h"

#include <chrono>

#include "train/model/data.h"
#include "train/model/gpt.h"
#include "train/model/optimizer.h"

namespace prism::train {

std::vector<StepResult> trainReference(const ModelConfig& model, const TrainConfig& train) {
  Gpt gpt(model, ModelShard{});
  Hooks hooks(makeMicroBatch(model, train, 0, 0, 1).positions);
  Sgd sgd(train.lr, train.momentum);
  std::vector<StepResult> out;
  for (int step = 0; step < train.steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    gpt.zeroGrad();
    const MicroBatch mb = makeMicroBatch(model, train, step, 0, train.batch);
    Gpt::Cache cache;
    double loss = 0.0;
    gpt.forward(hooks, mb, {}, cache, &loss);
    gpt.backward(hooks, mb, cache, {});
    sgd.step(gpt.params());
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - start;
    out.push_back({loss * mb.lossScale, dt.count()});
  }
  return out;
}

}  // namespace prism::train
