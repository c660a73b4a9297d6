// The cost model's constants as a file: `prism-bench --calibrate` measures them on a
// machine and writes a profile; PRISM_TUNING_FILE makes later runs load it.
#pragma once

#include <string>

#include "algorithms/fabric.h"

namespace prism {

/// The profile PRISM_TUNING_FILE names, or the built-in defaults when it is unset. Read
/// once per process. A file that cannot be read or parsed throws ncclInvalidArgument
/// naming the file and the reason.
const CostProfile& activeCostProfile();

/// Parses a profile (JSON object; missing fields keep their defaults). `origin` names the
/// source in errors.
CostProfile parseCostProfile(const std::string& text, const std::string& origin);
/// The profile as JSON text, the format parseCostProfile reads.
std::string formatCostProfile(const CostProfile& profile);

}  // namespace prism
