/// Pipeline schedules: the order in which one stage runs the forward and backward passes
/// of its micro-batches. Pure functions, so every stage derives a consistent order alone.
///   GPipe: all forwards, then all backwards.
///   1F1B:  stages - stage - 1 warm-up forwards, then alternate one forward and one
///          backward, then the remaining backwards; at most `stages` micro-batches of
///          activations are alive at once.
#pragma once

#include <vector>

#include "train/parallel/options.h"

namespace prism::train {

struct PipeAction {
  enum class Kind { Forward, Backward } kind;
  int microbatch;
  bool operator==(const PipeAction&) const = default;
};

std::vector<PipeAction> pipelineSchedule(PipeSchedule schedule, int stages, int stage,
                                         int microbatches);

}  // namespace prism::train
