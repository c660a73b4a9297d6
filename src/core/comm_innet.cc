// The communicator's hook into the in-network aggregation path (core/in_network.h): the
// path object is made at the first host collective that asks, and connects at its first
// eligible call.
#include <algorithm>
#include <cctype>
#include <string>

#include "algorithms/in_network_model.h"
#include "algorithms/select.h"
#include "config/config.h"
#include "core/communicator.h"
#include "core/in_network.h"
#include "logging/log.h"
#include "topology/system.h"

namespace prism {

namespace {

/// True when the comma list `algos` (PRISM_ALGO) names "innet", in any case.
bool namesInNetwork(const std::string& algos) {
  size_t begin = 0;
  while (begin <= algos.size()) {
    size_t end = algos.find(',', begin);
    if (end == std::string::npos) end = algos.size();
    std::string name = algos.substr(begin, end - begin);
    std::erase_if(name, [](char c) { return c == ' ' || c == '\t'; });
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "innet") return true;
    begin = end + 1;
  }
  return false;
}

}  // namespace

void InNetworkDeleter::operator()(InNetwork* p) const { delete p; }

bool Communicator::inNetworkPreferred(size_t bytes) {
  const int sizeClass = bytes == 0 ? 0 : 64 - __builtin_clzll(bytes);
  if (auto it = innetChoice_.find(sizeClass); it != innetChoice_.end()) return it->second;
  // Each rank streams its S bytes up and the result down through its host's link, which
  // all ranks of the host share; the chunks pipeline, so one round trip of latency.
  const InNetworkCosts costs = inNetworkCostsFor(fabric_, hostOf_);
  bool prefer = false;
  if (costs.linkBytesPerMicro > 0) {  // a single host has no network link to save
    const double innet = predictInNetworkMicros(bytes, size_, costs);
    const SelectionRequest request = selectionFor(Collective::AllReduce, size_, bytes);
    const double plans = prism::predictMicros(selectAlgorithm(request), request);
    prefer = innet < plans;
    log::info(log::kTuning,
              "AllReduce nranks %d bytes %zu: innet predicted %.2f us, plans %.2f us%s", size_,
              bytes, innet, plans, prefer ? ": selected innet" : "");
  }
  innetChoice_.emplace(sizeClass, prefer);
  return prefer;
}

bool Communicator::tryInNetwork(const Operation& op) {
  if (op.kind != OperationKind::Collective || op.collective != Collective::AllReduce) return false;
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
    // "innet" in PRISM_ALGO forces the path; "^...,innet" turns it off.
    const bool excluded = !algoOverride_.empty() && algoOverride_.front() == '^';
    const bool named = namesInNetwork(excluded ? algoOverride_.substr(1) : algoOverride_);
    if (excluded && named) options.address.clear();
    options.forced = named && !excluded;
    options.whileWaiting = [this] { checkUsable(); };
    // A PRISM_ALGO list that allows only other algorithms keeps the service out.
    const bool othersOnly = !algoOverride_.empty() && !excluded && !named;
    if (!othersOnly) options.prefer = [this](size_t bytes) { return inNetworkPreferred(bytes); };
    innet_.reset(new InNetwork(std::move(options)));
  }
  if (!innet_->eligible(op)) return false;
  checkUsable();
  // Counted as a driver, like runPlans, so that ncclCommAbort waits for this call to stop.
  drivers_.fetch_add(1);
  struct Leave {
    std::atomic<int>& drivers;
    ~Leave() { drivers.fetch_sub(1); }
  } leave{drivers_};
  innet_->run(op);
  return true;
}

}  // namespace prism
