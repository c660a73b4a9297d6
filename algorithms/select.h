// Picks the algorithm for one collective call.
#pragma once

#include <cstddef>
#include <string_view>

#include "algorithms/registry.h"

namespace prism {

struct SelectionRequest {
  Collective collective;
  int nranks;
  size_t bytes;  ///< per-rank buffer size as nccl-tests reports it
  /// User override (PRISM_ALGO / NCCL_ALGO), possibly a comma list; empty for none.
  /// Names that do not support the collective are skipped.
  std::string_view forced;
};

/// Chooses among allAlgorithms() with a latency/bandwidth cost model. Never returns null.
const AlgorithmInfo& selectAlgorithm(const SelectionRequest& request);

/// Predicted time in microseconds of running `algorithm` for the request on shared memory
/// (alpha-beta model). Used by the selector and by ncclGroupSimulateEnd.
double predictMicros(const AlgorithmInfo& algorithm, const SelectionRequest& request);

}  // namespace prism
