// Shared by the parallel tests: a tiny model that 8 thread ranks train in seconds, and a
// runner returning rank 0's step reports.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "train/model/reference.h"
#include "train/parallel/options.h"
#include "train/parallel/thread_ranks.h"
#include "train/parallel/trainer.h"

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

/// Trains `o` on `ranks` thread ranks and checks every rank's per-step losses against the
/// single-rank reference within 1e-5 relative; the model must learn.
inline void expectParity(const Options& o, int ranks) {
  ModelConfig model = o.model;
  const std::vector<StepResult> ref = trainReference(model, o.train);
  const auto reports = runRanks(o, ranks);
  double worst = 0.0;
  for (int r = 0; r < ranks; ++r) {
    ASSERT_EQ(reports[r].size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_NEAR(reports[r][i].loss, ref[i].loss, 1e-5 * std::fabs(ref[i].loss))
          << "rank " << r << " step " << i;
      worst = std::max(worst, std::fabs(reports[r][i].loss - ref[i].loss) / ref[i].loss);
    }
  }
  ::testing::Test::RecordProperty("max_relative_difference", std::to_string(worst));
  std::printf("max relative loss difference over %zu steps: %.3g\n", ref.size(), worst);
  // The model learns: the last loss is clearly below the first.
  EXPECT_LT(ref.back().loss, ref.front().loss - 0.1);
}

}  // namespace prism::train::testing
