#include "perf/bench/program_aliases.h"

namespace prism::bench {
namespace {

// nccl-tests' hypercube and alltoallv tests are exchanges written in send/recv rounds;
// the nearest Prism measurement is named instead of a different one run silently.
constexpr ProgramAlias kAliases[] = {
    {"all_reduce_perf", Collective::AllReduce},
    {"all_gather_perf", Collective::AllGather},
    {"broadcast_perf", Collective::Broadcast},
    {"reduce_scatter_perf", Collective::ReduceScatter},
    {"reduce_perf", Collective::Reduce},
    {"alltoall_perf", Collective::AllToAll},
    {"alltoallv_perf", std::nullopt,
     "nccl-tests' alltoallv (per-peer counts in send/recv rounds) has no prism-bench "
     "counterpart; alltoall_perf measures ncclAlltoAll with equal counts"},
    {"gather_perf", Collective::Gather},
    {"scatter_perf", Collective::Scatter},
    {"sendrecv_perf", Collective::SendRecv},
    {"hypercube_perf", std::nullopt,
     "nccl-tests' hypercube (an allgather in log2(n) send/recv rounds between rank pairs) "
     "has no prism-bench counterpart; all_gather_perf measures Prism's allgather and "
     "sendrecv_perf its send/recv"},
};

std::string_view baseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::span<const ProgramAlias> programAliases() { return kAliases; }

const ProgramAlias* findProgramAlias(std::string_view argv0) {
  const std::string_view base = baseName(argv0);
  for (const ProgramAlias& alias : kAliases) {
    const std::string_view name = alias.name;
    if (base == name || (base.starts_with(name) && base[name.size()] == '_')) return &alias;
  }
  return nullptr;
}

}  // namespace prism::bench
