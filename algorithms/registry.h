// The algorithm library: every schedule generator Prism has, by name.
#pragma once

#include <span>
#include <string_view>

#include "algorithms/schedule.h"

namespace prism {

struct AlgorithmInfo {
  const char* name;  ///< as accepted by PRISM_ALGO / NCCL_ALGO, lower case ("ring")
  ScheduleGenerator generate;
  /// Whether the generator handles this collective (for any nranks >= 1).
  bool (*supports)(Collective);
  /// Whether the generator can build a schedule for this particular request (e.g. the
  /// rank grouping it needs); the selector consults it after `supports`. Null: always.
  bool (*applies)(const ScheduleRequest&) = nullptr;
  /// Independent pipelines the schedule runs at once, each over its own share of the data
  /// and its own links (NCCL's channels): two for the opposite rings of multi_ring and the
  /// two trees of double_binary_tree. Choosing among the algorithms chooses this too.
  int channels = 1;
};

/// All generators, in a fixed order.
std::span<const AlgorithmInfo> allAlgorithms();
/// The generator named `name` (case-insensitive), or nullptr.
const AlgorithmInfo* findAlgorithm(std::string_view name);

}  // namespace prism
