// NCCL's algorithms and protocols mapped onto Prism's, and the cost table a tuner plugin
// edits: what Prism offers for one call, and what the plugin's edit picked. Pure functions
// over the selector's request; the table in docs/design/tuner_plugin.md is this file's.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "algorithms/algo_override.h"
#include "algorithms/select.h"
#include "prism/nccl_tuner_abi.h"

namespace prism {

/// Why an entry of the table is offered or not.
enum class TunerOffer : uint8_t {
  Offered,        ///< Prism runs it: the cost is its predicted time
  NoCounterpart,  ///< NVLS, NVLS_TREE: no NVLink SHARP on host memory
  Unsupported,    ///< the Prism algorithm does not run this collective (or these ranks)
  NoService,      ///< COLLNET: no in-network service takes this call
  Excluded,       ///< PRISM_ALGO / NCCL_ALGO does not allow it
};

/// The table offered for one call, with what each NCCL algorithm stands for.
struct TunerTable {
  float cost[NCCL_NUM_ALGORITHMS_V5][NCCL_NUM_PROTOCOLS_V5];
  TunerOffer offer[NCCL_NUM_ALGORITHMS_V5];
  /// The plan algorithm each NCCL algorithm maps to; null for COLLNET (the in-network
  /// path) and for algorithms without a counterpart.
  const AlgorithmInfo* algorithm[NCCL_NUM_ALGORITHMS_V5];
};

/// "TREE", "RING", ..., "PAT"; "UNDEF" outside the range.
const char* ncclAlgorithmName(int algorithm);
/// "LL", "LL128", "SIMPLE"; "UNDEF" outside the range.
const char* ncclProtocolName(int protocol);
/// What the entry stands for in Prism: "ring", "innet", or "none".
const char* prismNameOf(int algorithm);
/// Why an entry is not offered, for the TUNING log ("" when it is).
const char* offerReason(TunerOffer offer);
/// The function a tuner is asked about for `c` (SendRecv has none: ncclFuncSendRecv).
ncclFunc_t ncclFuncOf(Collective c);

/// The table for `request` (request.forced is the override): every protocol of an offered
/// algorithm costs the algorithm's predicted microseconds, since Prism's host path has one
/// protocol; everything else is NCCL_ALGO_PROTO_IGNORE. `inNetworkMicros` is set where the
/// in-network service may take the call (AllReduce), with its predicted time.
TunerTable offeredTable(const SelectionRequest& request, std::optional<double> inNetworkMicros);

/// The entry (algorithm, protocol) a plugin's edit picked.
struct TunerPick {
  int algorithm;
  int protocol;
};

/// The cheapest non-negative entry of `edited`, as NCCL takes it (ties: the first), or
/// nullopt when the plugin left the table as offered (no opinion) or made every entry
/// negative. The pick may be an entry that was not offered; the caller checks.
std::optional<TunerPick> pickedEntry(
    const TunerTable& offered,
    const float (&edited)[NCCL_NUM_ALGORITHMS_V5][NCCL_NUM_PROTOCOLS_V5]);

}  // namespace prism
