/// Single-rank training on the whole global batch: the ground truth every parallel mode is
/// compared with.
#pragma once

#include <vector>

#include "train/model/config.h"

namespace prism::train {

struct StepResult {
  double loss = 0.0;  ///< mean token loss of the global batch
  double seconds = 0.0;
};

std::vector<StepResult> trainReference(const ModelConfig& model, const TrainConfig& train);

}  // namespace prism::train
