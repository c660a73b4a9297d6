/// One rank of a parallel training run: builds the device mesh, this rank's shard of the
/// model and the parallel components, then runs steps through the pipeline schedule.
#pragma once

#include <memory>
#include <ostream>
#include <vector>

#include "prism/comm.hpp"
#include "train/parallel/options.h"
#include "train/parallel/traced_comm.h"

namespace prism::train {

struct StepReport {
  int step = 0;
  double loss = 0.0;     ///< mean token loss of the global batch (same on every rank)
  double seconds = 0.0;  ///< this rank's step time
  CommStats comm;        ///< this rank's traffic in the step (loss reporting excluded)
  /// Exposed communication over all ranks. A rank that reaches a collective early also
  /// waits for its peers there (load imbalance); the last to arrive sees only the
  /// communication itself, so the minimum is the exposure that overlap can remove.
  double exposedMinSeconds = 0.0, exposedMaxSeconds = 0.0;
};

class Trainer {
 public:
  /// Collective over `world`. Validates `options` first (see validateOptions).
  Trainer(Comm& world, const Options& options);
  ~Trainer();
  StepReport step(int index);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

/// Runs options.train.steps steps; rank 0 prints one line per step to `log` when given.
std::vector<StepReport> train(Comm& world, const Options& options, std::ostream* log);

/// One line: step, loss, time, bytes and calls per collective type, exposed communication
/// and overlap.
std::string formatStep(const StepReport& r);

/// One line over `reports` without the first `skip` (warm-up): the median step time,
/// communication time, exposed communication and overlap, the exposed share of all
/// communication time together, and the bytes of the last step.
std::string formatSummary(const std::vector<StepReport>& reports, size_t skip);

}  // namespace prism::train
