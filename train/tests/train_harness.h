// Shared by the parallel tests: a tiny model that 8 thread ranks train in seconds, and a
// runner returning rank 0's step reports.
#pragma once

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "model/reference.h"
#include "parallel/options.h"
#include "parallel/thread_ranks.h"
#include "parallel/trainer.h"

namespace prism::train::testing {

inline Options tinyOptions(Mode mode, int steps = 20) {
  Options o;
  o.mode = mode;
  o.model.layers = 4;
  o.model.hidden = 32;
  o.model.heads = 4;
  o.model.vocab = 64;
  o.model.seq = 16;
  o.model.ffnMult = 2;
  o.model.experts = 8;
  o.train.batch = 8;
  o.train.steps = steps;
  o.quiet = true;
  return o;
}

/// Trains on `ranks` thread ranks; returns every rank's reports, by rank.
inline std::vector<std::vector<StepReport>> runRanks(const Options& options, int ranks) {
  std::vector<std::vector<StepReport>> out(ranks);
  runThreadRanks(ranks, [&](Comm& world) { out[world.rank()] = train(world, options, nullptr); });
  return out;
}

}  // namespace prism::train::testing
