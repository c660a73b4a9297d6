#include "core/cost_profile.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/config.h"
#include "core/error.h"
#include "logging/log.h"

namespace prism {
namespace {

struct Field {
  const char* name;
  double CostProfile::*member;
};

constexpr Field kFields[] = {
    {"step_us", &CostProfile::stepMicros},
    {"shm_bytes_per_us", &CostProfile::shmBytesPerMicro},
    {"reduce_bytes_per_us", &CostProfile::reduceBytesPerMicro},
    {"network_efficiency", &CostProfile::networkEfficiency},
    {"network_step_us", &CostProfile::networkStepMicros},
};

CostProfile loadFromSettings() {
  const std::string path = config::getString(config::Setting::TuningFile);
  if (path.empty()) return CostProfile{};
  std::ifstream in(path);
  check(in.good(), ncclInvalidArgument, "PRISM_TUNING_FILE " + path + ": cannot be opened");
  std::stringstream text;
  text << in.rdbuf();
  CostProfile profile = parseCostProfile(text.str(), "PRISM_TUNING_FILE " + path);
  log::info(log::kTuning, "cost profile from %s: step %.2f us, shm %.0f MB/s, reduce %.0f MB/s",
            path.c_str(), profile.stepMicros, profile.shmBytesPerMicro,
            profile.reduceBytesPerMicro);
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
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ncclInvalidArgument, origin + ": not JSON (" + e.what() + ")");
  }
  check(doc.is_object(), ncclInvalidArgument, origin + ": expected a JSON object");
  CostProfile profile;
  for (const Field& field : kFields) {
    auto it = doc.find(field.name);
    if (it == doc.end()) continue;
    check(it->is_number() && it->get<double>() > 0, ncclInvalidArgument,
          origin + ": \"" + field.name + "\" must be a positive number");
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
