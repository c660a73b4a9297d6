#include "train/parallel/pipeline.h"

#include <algorithm>

namespace prism::train {

std::vector<PipeAction> pipelineSchedule(PipeSchedule schedule, int stages, int stage,
                                         int microbatches) {
  using K = PipeAction::Kind;
  std::vector<PipeAction> out;
  if (schedule == PipeSchedule::GPipe) {
    for (int i = 0; i < microbatches; ++i) out.push_back({K::Forward, i});
    for (int i = 0; i < microbatches; ++i) out.push_back({K::Backward, i});
    return out;
  }
  const int warmup = std::min(stages - stage - 1, microbatches);
  for (int i = 0; i < warmup; ++i) out.push_back({K::Forward, i});
  for (int i = 0; i < microbatches - warmup; ++i) {
    out.push_back({K::Forward, warmup + i});
    out.push_back({K::Backward, i});
  }
  for (int i = microbatches - warmup; i < microbatches; ++i) out.push_back({K::Backward, i});
  return out;
}

}  // namespace prism::train
