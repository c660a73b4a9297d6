// The communicator's hook into the in-network aggregation path (core/in_network.h): the
// path object is made at the first host collective that asks, and connects at its first
// eligible call.
#include <cctype>
#include <string>

#include "config/config.h"
#include "core/communicator.h"
#include "core/in_network.h"

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

bool Communicator::tryInNetwork(const Operation& op) {
  if (op.kind != OperationKind::Collective || op.collective != Collective::AllReduce) return false;
  if (!innet_) {
    InNetworkOptions options;
    options.address = config::getString(config::Setting::InnetAddr);
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
