// The communicator's hook into a tuner plugin (tuner.h): the plugin's init at creation,
// and the question the router asks for every whole-communicator host collective.
#include <algorithm>
#include <cstdint>
#include <map>

#include "algorithms/select.h"
#include "src/comm/communicator.h"
#include "src/comm/tuner.h"
#include "src/core/in_network.h"

namespace prism {

namespace {

/// FNV-1a of the communicator's name, which every rank shares: NCCL's commId is a hash
/// of the unique id likewise.
uint64_t commIdOf(const std::string& name) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

}  // namespace

void Communicator::startTuner() {
  std::shared_ptr<const TunerPlugin> plugin = tunerPlugin();
  if (plugin == nullptr) return;
  TunerInitArgs args;
  args.commId = commIdOf(name_);
  args.nRanks = static_cast<size_t>(size_);
  std::map<int, int> ranksOnHost;
  for (int host : hostOf_) ++ranksOnHost[host];
  args.nNodes = std::max<size_t>(1, ranksOnHost.size());
  args.minRanksPerNode = size_;
  args.maxRanksPerNode = 0;
  for (const auto& [host, ranks] : ranksOnHost) {
    args.minRanksPerNode = std::min(args.minRanksPerNode, ranks);
    args.maxRanksPerNode = std::max(args.maxRanksPerNode, ranks);
  }
  tuner_ = CommTuner::create(std::move(plugin), args, name_, rank_);
}

std::optional<Path> Communicator::askTuner(Operation& op) {
  // Internal exchanges (subsets of the ranks, or serving another operation) and
  // point-to-point messages are not NCCL collectives a tuner is asked about.
  if (!tuner_ || op.kind != OperationKind::Collective || op.onDevice || op.members != nullptr ||
      op.serves != nullptr) {
    return std::nullopt;
  }
  const SelectionRequest request = planner_->selectionFor(op);
  std::optional<double> innet;
  if (op.collective == Collective::AllReduce && inNetworkPath().available(op)) {
    innet = planner_->inNetworkMicros(request.bytes);
  }
  const TunerDecision decision = tuner_->decide(request, innet);
  switch (decision.route) {
    case TunerDecision::Route::Plan:
      op.algorithm = decision.algorithm;
      return Path::Plan;
    case TunerDecision::Route::InNetwork:
      return Path::InNetwork;
    case TunerDecision::Route::Model:
      break;
  }
  return std::nullopt;
}

}  // namespace prism
