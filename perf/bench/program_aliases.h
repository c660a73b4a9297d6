// nccl-tests' binary names. prism-bench installs a link of each name to itself and, run
// under one, measures that name's collective, so scripts written for nccl-tests run as
// they are: `all_reduce_perf -b 8 -e 128M -f 2 -g 1`.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "perf/bench/collectives.h"

namespace prism::bench {

/// One nccl-tests binary and what prism-bench does under its name.
struct ProgramAlias {
  const char* name;                      ///< "all_reduce_perf"
  std::optional<Collective> collective;  ///< empty: nothing in Prism measures it
  const char* unsupported = "";          ///< why not, and what to run instead
};

/// Every binary nccl-tests builds (its src/CMakeLists.txt), in its order.
std::span<const ProgramAlias> programAliases();

/// The alias `argv0` names: its base name is an alias name, alone or followed by a
/// suffix that starts with '_' (nccl-tests' NAME_SUFFIX, e.g. all_reduce_perf_mpi).
/// Null for any other name, prism-bench included.
const ProgramAlias* findProgramAlias(std::string_view argv0);

}  // namespace prism::bench
