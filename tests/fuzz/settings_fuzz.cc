// libFuzzer: the values of PRISM_* / NCCL_* settings and of the files they name that are
// parsed as text. The first byte picks a setting, the rest is its value. Reading it as a
// string and as an integer, as an interface filter (NCCL_SOCKET_IFNAME) and as a cost
// profile (PRISM_TUNING_FILE's contents) must give a value, a default with a WARN, or a
// prism::Error, never a crash. Settings that name files to write are skipped: the fuzzer
// must not create files.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "algorithms/cost_profile.h"
#include "base/config.h"
#include "base/error.h"
#include "base/interfaces.h"

using namespace prism;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto setting =
      static_cast<config::Setting>(data[0] % static_cast<int>(config::Setting::Count_));
  if (setting == config::Setting::DebugFile || setting == config::Setting::TopoDumpFile) return 0;
  std::string value(reinterpret_cast<const char*>(data) + 1, size - 1);
  value = value.substr(0, value.find('\0'));  // an environment value ends at the first NUL
  setenv(config::name(setting), value.c_str(), 1);
  try {
    config::getString(setting);
    config::getInt(setting);
    net::parseIfnameFilter(value);
    parseCostProfile(value, "fuzz");
  } catch (const Error&) {
  }
  unsetenv(config::name(setting));
  return 0;
}
