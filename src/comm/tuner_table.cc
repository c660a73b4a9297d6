#include "src/comm/tuner_table.h"

#include <cstring>

#include "algorithms/algo_override.h"
#include "base/text.h"

namespace prism {

namespace {

/// What each NCCL algorithm index stands for in Prism (docs/design/tuner_plugin.md). TREE
/// is NCCL's double binary tree; both COLLNET flavours are the in-network service; NVLS
/// needs NVLink SHARP, which host memory does not have.
constexpr const char* kPrismName[NCCL_NUM_ALGORITHMS_V5] = {
    "double_binary_tree",  // TREE
    "ring",                // RING
    "innet",               // COLLNET_DIRECT
    "innet",               // COLLNET_CHAIN
    nullptr,               // NVLS
    nullptr,               // NVLS_TREE
    "pat",                 // PAT
};

constexpr const char* kAlgorithmNames[NCCL_NUM_ALGORITHMS_V5] = {
    "TREE", "RING", "COLLNET_DIRECT", "COLLNET_CHAIN", "NVLS", "NVLS_TREE", "PAT"};
constexpr const char* kProtocolNames[NCCL_NUM_PROTOCOLS_V5] = {"LL", "LL128", "SIMPLE"};

bool isInNetwork(int algorithm) {
  return algorithm == NCCL_ALGO_COLLNET_DIRECT || algorithm == NCCL_ALGO_COLLNET_CHAIN;
}

}  // namespace

const char* ncclAlgorithmName(int algorithm) {
  return algorithm >= 0 && algorithm < NCCL_NUM_ALGORITHMS_V5 ? kAlgorithmNames[algorithm]
                                                              : "UNDEF";
}

const char* ncclProtocolName(int protocol) {
  return protocol >= 0 && protocol < NCCL_NUM_PROTOCOLS_V5 ? kProtocolNames[protocol] : "UNDEF";
}

const char* prismNameOf(int algorithm) {
  if (algorithm < 0 || algorithm >= NCCL_NUM_ALGORITHMS_V5) return "none";
  return kPrismName[algorithm] != nullptr ? kPrismName[algorithm] : "none";
}

const char* offerReason(TunerOffer offer) {
  switch (offer) {
    case TunerOffer::Offered:
      return "";
    case TunerOffer::NoCounterpart:
      return "no NVLink SHARP on host memory";
    case TunerOffer::Unsupported:
      return "Prism's counterpart does not run this collective here";
    case TunerOffer::NoService:
      return "no in-network service takes this call";
    case TunerOffer::Excluded:
      return "PRISM_ALGO / NCCL_ALGO does not allow it";
  }
  return "unknown";
}

ncclFunc_t ncclFuncOf(Collective c) {
  switch (c) {
    case Collective::AllReduce:
      return ncclFuncAllReduce;
    case Collective::Broadcast:
      return ncclFuncBroadcast;
    case Collective::Reduce:
      return ncclFuncReduce;
    case Collective::AllGather:
      return ncclFuncAllGather;
    case Collective::ReduceScatter:
      return ncclFuncReduceScatter;
    case Collective::AllToAll:
      return ncclFuncAlltoAll;
    case Collective::Gather:
      return ncclFuncGather;
    case Collective::Scatter:
      return ncclFuncScatter;
    case Collective::SendRecv:
      return ncclFuncSendRecv;
  }
  return ncclFuncSendRecv;
}

TunerTable offeredTable(const SelectionRequest& request, std::optional<double> inNetworkMicros) {
  TunerTable table{};
  const ScheduleRequest schedule = scheduleRequestFor(request, 0);
  for (int a = 0; a < NCCL_NUM_ALGORITHMS_V5; ++a) {
    const AlgorithmInfo* info =
        kPrismName[a] != nullptr && !isInNetwork(a) ? findAlgorithm(kPrismName[a]) : nullptr;
    table.algorithm[a] = info;
    double micros = -1.0;
    if (kPrismName[a] == nullptr) {
      table.offer[a] = TunerOffer::NoCounterpart;
    } else if (isInNetwork(a)) {
      table.offer[a] =
          !inNetworkMicros ? TunerOffer::NoService
          : overrideAllows(overrideFor(request.forced, request.collective), kPrismName[a])
              ? TunerOffer::Offered
              : TunerOffer::Excluded;
      if (inNetworkMicros) micros = *inNetworkMicros;
    } else if (info == nullptr || !info->supports(request.collective) ||
               (info->applies != nullptr && !info->applies(schedule))) {
      table.offer[a] = TunerOffer::Unsupported;
    } else {
      table.offer[a] = overrideAllows(overrideFor(request.forced, request.collective), info->name)
                           ? TunerOffer::Offered
                           : TunerOffer::Excluded;
      micros = predictMicros(*info, request);
    }
    // Every protocol alike: the host path has one, whatever the tuner names.
    for (int p = 0; p < NCCL_NUM_PROTOCOLS_V5; ++p) {
      table.cost[a][p] = table.offer[a] == TunerOffer::Offered ? static_cast<float>(micros)
                                                               : NCCL_ALGO_PROTO_IGNORE;
    }
  }
  return table;
}

std::optional<TunerPick> pickedEntry(
    const TunerTable& offered,
    const float (&edited)[NCCL_NUM_ALGORITHMS_V5][NCCL_NUM_PROTOCOLS_V5]) {
  if (std::memcmp(offered.cost, edited, sizeof(offered.cost)) == 0) return std::nullopt;
  std::optional<TunerPick> best;
  float bestCost = 0;
  for (int a = 0; a < NCCL_NUM_ALGORITHMS_V5; ++a) {
    for (int p = 0; p < NCCL_NUM_PROTOCOLS_V5; ++p) {
      const float cost = edited[a][p];
      if (!(cost >= 0.0f)) continue;  // negative or NaN: ignored, as NCCL ignores them
      if (!best || cost < bestCost) {
        best = TunerPick{a, p};
        bestCost = cost;
      }
    }
  }
  return best;
}

}  // namespace prism
