// Picks the algorithm for one collective call.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "algorithms/fabric.h"
#include "algorithms/registry.h"
#include "algorithms/simulate.h"

namespace prism {

struct SelectionRequest {
  Collective collective;
  int nranks;
  size_t bytes;  ///< per-rank buffer size as nccl-tests reports it
  /// User override (PRISM_ALGO / NCCL_ALGO), possibly a comma list; empty for none.
  /// Names that do not support the collective are skipped.
  std::string_view forced;
  /// The fabric between the ranks; null means one host of shared-memory FIFOs with the
  /// default CostProfile.
  const FabricModel* fabric = nullptr;
  /// The topology group (host) of every rank, for topology-aware generators; null or
  /// empty means one group.
  const std::vector<int>* groupOf = nullptr;
  /// The size of the messages the schedule's steps pipeline (the transport's slot; 0
  /// unknown), for the TUNING log: the chunk is fixed per communicator (ARCHITECTURE.md,
  /// "Chunk size and channel count").
  size_t chunkBytes = 0;
};

/// The request a generator gets for `request` and `root`.
ScheduleRequest scheduleRequestFor(const SelectionRequest& request, int root);

/// Chooses among allAlgorithms() with a latency/bandwidth cost model. Never returns null.
const AlgorithmInfo& selectAlgorithm(const SelectionRequest& request);

/// The simulator's prediction for running `algorithm` on the request's fabric. Used by the
/// selector, ncclGroupSimulateEnd and prism-bench. `micros` is infinity when the algorithm
/// does not support the collective.
Prediction predict(const AlgorithmInfo& algorithm, const SelectionRequest& request);
/// predict(...).micros.
double predictMicros(const AlgorithmInfo& algorithm, const SelectionRequest& request);

}  // namespace prism
