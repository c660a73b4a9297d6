#include "src/comm/tuner.h"

#include <cstring>
#include <tuple>

#include "base/log.h"

namespace prism {

namespace {

/// Bound on remembered tables: a program with ever-new sizes recomputes, never grows.
constexpr size_t kMaxTables = 1024;

std::string entryName(int algorithm, int protocol) {
  return std::string(ncclAlgorithmName(algorithm)) + "/" + ncclProtocolName(protocol);
}

}  // namespace

std::unique_ptr<CommTuner> CommTuner::create(std::shared_ptr<const TunerPlugin> plugin,
                                             const TunerInitArgs& args, const std::string& comm,
                                             int rank) {
  if (plugin == nullptr) return nullptr;
  void* context = nullptr;
  const ncclResult_t result = plugin->init(args, &context);
  if (result != ncclSuccess) {
    log::warn(
        "tuner plugin %s: init failed (ncclResult_t %d) for comm %s rank %d; Prism "
        "selects on its own",
        plugin->name().c_str(), static_cast<int>(result), comm.c_str(), rank);
    return nullptr;
  }
  log::info(log::kInit | log::kTuning,
            "comm %s rank %d: tuner plugin %s (v%d) asked for every host collective (%zu "
            "ranks, %zu nodes)",
            comm.c_str(), rank, plugin->name().c_str(), plugin->version(), args.nRanks,
            args.nNodes);
  return std::unique_ptr<CommTuner>(new CommTuner(std::move(plugin), context));
}

CommTuner::~CommTuner() {
  const ncclResult_t result = plugin_->finalize(context_);
  if (result != ncclSuccess) {
    log::warn("tuner plugin %s: finalize failed (ncclResult_t %d)", plugin_->name().c_str(),
              static_cast<int>(result));
  }
}

const TunerTable& CommTuner::tableFor(const SelectionRequest& request,
                                      std::optional<double> innet) {
  const auto key =
      std::make_tuple(request.collective, request.nranks, request.bytes, innet.has_value());
  auto it = tables_.find(key);
  if (it != tables_.end()) return it->second;
  if (tables_.size() >= kMaxTables) tables_.clear();
  return tables_.emplace(key, offeredTable(request, innet)).first->second;
}

TunerDecision CommTuner::ownChoice(const SelectionRequest& request,
                                   const std::string& answer) const {
  log::info(log::kTuning, "tuner %s: %s %zu B -> %s; Prism's own choice", plugin_->name().c_str(),
            collectiveName(request.collective), request.bytes, answer.c_str());
  return {};
}

TunerDecision CommTuner::decide(const SelectionRequest& request,
                                std::optional<double> inNetworkMicros) {
  const TunerTable& offered = tableFor(request, inNetworkMicros);
  TunerCall call;
  call.func = ncclFuncOf(request.collective);
  call.nBytes = request.bytes;
  std::memcpy(call.table, offered.cost, sizeof(call.table));
  call.collNetSupport = offered.offer[NCCL_ALGO_COLLNET_DIRECT] == TunerOffer::Offered;
  const int channelsAsked = call.nChannels;
  const ncclResult_t result = plugin_->getCollInfo(context_, call);
  if (result != ncclSuccess) {
    return ownChoice(request, "error (ncclResult_t " + std::to_string(result) + ")");
  }
  std::optional<TunerPick> pick;
  if (plugin_->version() == 2) {
    // Version 2 answers with indices; an algorithm of -1 is no opinion.
    if (call.algorithm != NCCL_ALGO_UNDEF) pick = TunerPick{call.algorithm, call.protocol};
  } else {
    pick = pickedEntry(offered, call.table);
  }
  if (!pick) return ownChoice(request, "no opinion");
  const std::string entry = entryName(pick->algorithm, pick->protocol);
  if (pick->algorithm < 0 || pick->algorithm >= NCCL_NUM_ALGORITHMS_V5) {
    return ownChoice(request,
                     "algorithm " + std::to_string(pick->algorithm) + ", which NCCL does not have");
  }
  const TunerOffer offer = offered.offer[pick->algorithm];
  if (offer == TunerOffer::Excluded) {
    return ownChoice(request, entry + " = " + prismNameOf(pick->algorithm) +
                                  ", overridden by PRISM_ALGO / NCCL_ALGO '" +
                                  std::string(request.forced) + "'");
  }
  if (offer != TunerOffer::Offered) {
    return ownChoice(request, entry + ", which Prism cannot run: " + offerReason(offer));
  }
  // The protocol is logged and ignored: the host path has one.
  log::info(log::kTuning, "tuner %s: %s %zu B -> %s = %s%s", plugin_->name().c_str(),
            collectiveName(request.collective), request.bytes, entry.c_str(),
            prismNameOf(pick->algorithm),
            call.nChannels != channelsAsked ? " (its channel count is ignored)" : "");
  TunerDecision decision;
  if (offered.algorithm[pick->algorithm] == nullptr) {
    decision.route = TunerDecision::Route::InNetwork;
  } else {
    decision.route = TunerDecision::Route::Plan;
    decision.algorithm = offered.algorithm[pick->algorithm];
  }
  return decision;
}

}  // namespace prism
