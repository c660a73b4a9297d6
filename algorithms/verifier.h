// The symbolic verifier: runs a schedule on sets of contributions instead of numbers.
#pragma once

#include <string>

#include "algorithms/schedule.h"

namespace prism {

struct VerifyResult {
  bool ok = true;
  std::string error;  ///< first problem found: rank, step index and what is wrong
};

/// Proves that `schedule` computes its collective for every rank: every output block ends
/// holding exactly the contributions it must (each once, from the right input blocks, the
/// final transform applied once where the collective reduces), no buffer a rank does not
/// own is touched, every message is received as sent, and the schedule completes under the
/// flow control model of schedule.h. With `inPlace`, input and output blocks alias as
/// schedule.h describes. Scratch blocks start undefined (reading one before it is written
/// is an error), alias nothing, and are never part of the result.
VerifyResult verifySchedule(const Schedule& schedule, bool inPlace);

}  // namespace prism
