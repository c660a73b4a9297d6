// The communicator's hook into the in-network aggregation path (core/in_network.h): the
// path object is made at the first host collective that asks, and connects at its first
// eligible call.
#include <algorithm>
#include <string>

#include "algorithms/algo_override.h"
#include "algorithms/in_network_model.h"
#include "algorithms/select.h"
#include "base/config.h"
#include "base/log.h"
#include "src/comm/communicator.h"
#include "src/core/in_network.h"
#include "topology/system.h"

namespace prism {

void InNetworkDeleter::operator()(InNetwork* p) const { delete p; }

bool Communicator::inNetworkEligible(const Operation& op) {
  if (op.kind != OperationKind::Collective || op.collective != Collective::AllReduce) return false;
  return inNetworkPath().eligible(op);
}

InNetwork& Communicator::inNetworkPath() {
  if (!innet_) {
    InNetworkOptions options;
    // PRISM_INNET_ADDR, else the fabric's first aggregation point: the selector uses a
    // service only where one exists.
    options.address = config::getString(config::Setting::InnetAddr);
    if (options.address.empty()) {
      const auto points = topology_->aggregationPoints();
      if (!points.empty()) options.address = points.front().address;
    }
    options.token = name_;
    options.rank = rank_;
    options.nranks = size_;
    options.timeoutSeconds = timeoutSeconds_;
    // "innet" in PRISM_ALGO forces the path; "^...,innet" turns it off (AllReduce's entry).
    const std::string algos(overrideFor(planner_->algoOverride(), Collective::AllReduce));
    const bool excluded = !algos.empty() && algos.front() == '^';
    const bool named = !algos.empty() && overrideAllows(algos, "innet") != excluded;
    if (excluded && named) options.address.clear();
    options.forced = named && !excluded;
    options.whileWaiting = [this] { checkUsable(); };
    // A PRISM_ALGO list that allows only other algorithms keeps the service out.
    const bool othersOnly = !algos.empty() && !excluded && !named;
    if (!othersOnly)
      options.prefer = [this](size_t bytes) { return planner_->inNetworkPreferred(bytes); };
    innet_.reset(new InNetwork(std::move(options)));
  }
  return *innet_;
}

void Communicator::runInNetwork(const Operation& op) {
  checkUsable();
  // Counted as a driver, like runPlans, so that ncclCommAbort waits for this call to stop.
  drivers_.fetch_add(1);
  struct Leave {
    std::atomic<int>& drivers;
    ~Leave() { drivers.fetch_sub(1); }
  } leave{drivers_};
  innet_->run(op);
}

}  // namespace prism
