#include "algorithms/cost_profile.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"

namespace prism {
namespace {

struct Field {
  const char* name;
  double CostProfile::*member;
  bool zeroAllowed = false;  ///< 0 means "none" (a burst), not an impossible speed or cost
};

constexpr Field kFields[] = {
    {"step_us", &CostProfile::stepMicros},
    {"shm_bytes_per_us", &CostProfile::shmBytesPerMicro},
    {"reduce_bytes_per_us", &CostProfile::reduceBytesPerMicro},
    {"network_efficiency", &CostProfile::networkEfficiency},
    {"network_step_us", &CostProfile::networkStepMicros},
    {"network_burst_bytes", &CostProfile::networkBurstBytes, true},
    {"shared_cores", &CostProfile::sharedCores, true},
    {"wake_us", &CostProfile::wakeMicros, true},
};

CostProfile loadFromSettings() {
  const std::string path = config::getString(config::Setting::TuningFile);
  if (path.empty()) return CostProfile{};
  std::ifstream in(path);
  check(in.good(), ncclInvalidArgument, "PRISM_TUNING_FILE " + path + ": cannot be opened");
  std::stringstream text;
  text << in.rdbuf();
  CostProfile profile = parseCostProfile(text.str(), "PRISM_TUNING_FILE " + path);
  log::info(log::kTuning,
            "cost profile from %s: step %.2f us, shm %.0f MB/s, reduce %.0f MB/s, network step "
            "%.2f us, network burst %.0f B, shared cores %.0f",
            path.c_str(), profile.stepMicros, profile.shmBytesPerMicro, profile.reduceBytesPerMicro,
            profile.networkStepMicros, profile.networkBurstBytes, profile.sharedCores);
  return profile;
}

}  // namespace

const CostProfile& activeCostProfile() {
  static const CostProfile profile = loadFromSettings();
  return profile;
}

CostProfile parseCostProfile(const std::string& text, const std::string& origin) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // Syntax errors, and numbers beyond a double's range (out_of_range), alike.
    throw Error(ncclInvalidArgument, origin + ": not JSON (" + e.what() + ")");
  }
  check(doc.is_object(), ncclInvalidArgument, origin + ": expected a JSON object");
  CostProfile profile;
  for (const Field& field : kFields) {
    auto it = doc.find(field.name);
    if (it == doc.end()) continue;
    const bool valid =
        it->is_number() && (it->get<double>() > 0 || (field.zeroAllowed && it->get<double>() == 0));
    check(valid, ncclInvalidArgument,
          origin + ": \"" + field.name + "\" must be a " +
              (field.zeroAllowed ? "non-negative" : "positive") + " number");
    profile.*field.member = it->get<double>();
  }
  return profile;
}

std::string formatCostProfile(const CostProfile& profile) {
  nlohmann::ordered_json doc;
  for (const Field& field : kFields) doc[field.name] = profile.*field.member;
  return doc.dump(2) + "\n";
}

}  // namespace prism
