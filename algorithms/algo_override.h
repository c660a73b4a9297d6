// The algorithm override (PRISM_ALGO / NCCL_ALGO) in NCCL's grammar since 2.24: entries
// separated by ';', each a comma list of algorithm names, "^" in front excluding instead of
// allowing; the first entry may apply to every collective, the others name theirs
// ("ring;allreduce:tree,ring;allgather:^pat"). A collective's own entry replaces the
// general one. Collective names are NCCL's (case-insensitive) plus Prism's others.
// The same grammar serves NCCL_PROTO, whose names Prism checks and otherwise ignores.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/collective.h"

namespace prism {

/// The list that applies to `c` ("a,b" or "^a,b"), empty when none does.
std::string_view overrideFor(std::string_view value, Collective c);

/// NCCL's algorithm names in Prism's, as NCCL_ALGO means them: "Tree" is the double binary
/// tree; "Ring" and "PAT" are Prism's own; CollNetDirect and CollNetChain are the
/// in-network path ("innet"); NVLS and NVLSTree have no counterpart on host memory and are
/// dropped (an entry left empty then lets the model choose). Prism's names pass through.
/// Structure (prefixes, '^', ';') is kept.
std::string ncclAlgorithmNames(std::string_view value);

/// What is wrong with `value`, one line per problem: an entry without a collective after
/// the first, an unknown collective, or a name `known` does not accept. Empty when fine.
std::vector<std::string> overrideProblems(std::string_view value,
                                          bool (*known)(std::string_view name));

/// `known` for NCCL_PROTO: NCCL's protocol names (LL, LL128, Simple).
bool isNcclProtocol(std::string_view name);

/// `known` for NCCL_ALGO / PRISM_ALGO: a registry algorithm, "innet", or one of NCCL's
/// names (ncclAlgorithmNames).
bool isAlgorithmName(std::string_view name);

/// The names of one list ("a,b" or "^a,b"), '^' and spaces stripped, in order.
std::vector<std::string_view> overrideNames(std::string_view list);

/// Whether the list (as overrideFor returns it: "a,b" allows, "^a,b" excludes, empty allows
/// everything) allows the algorithm or path named `name`, in any case.
bool overrideAllows(std::string_view list, std::string_view name);

}  // namespace prism
