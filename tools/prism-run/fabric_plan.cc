#include "tools/prism-run/fabric_plan.h"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace prism::run {

std::vector<RankSlot> placeRanks(int hosts, int ranksPerHost, Placement placement) {
  std::vector<RankSlot> slots(static_cast<size_t>(hosts * ranksPerHost));
  for (int r = 0; r < hosts * ranksPerHost; ++r) {
    RankSlot& slot = slots[static_cast<size_t>(r)];
    slot.localSize = ranksPerHost;
    if (placement == Placement::Block) {
      slot.host = r / ranksPerHost;
      slot.localRank = r % ranksPerHost;
    } else {
      slot.host = r % hosts;
      slot.localRank = r / hosts;
    }
  }
  return slots;
}

FabricNames::FabricNames(long id)
    : prefix("prism-" + std::to_string(id)),
      subnet(static_cast<int>(id % 200) + 20),
      tag(std::to_string(id)) {}

std::string FabricNames::hostNamespace(int host) const {
  return prefix + "-h" + std::to_string(host);
}
std::string FabricNames::switchNamespace() const { return prefix + "-sw"; }
std::string FabricNames::bridge() const { return linkPrefix() + "br"; }
std::string FabricNames::hostLink(int host) const {
  return linkPrefix() + "h" + std::to_string(host);
}
std::string FabricNames::switchLink(int host) const {
  return linkPrefix() + "s" + std::to_string(host);
}
std::string FabricNames::hostAddress(int host) const {
  return "10." + std::to_string(subnet) + ".0." + std::to_string(host + 1);
}
std::string FabricNames::innetAddress() const { return "10." + std::to_string(subnet) + ".0.254"; }
std::string FabricNames::linkPrefix() const { return "pr" + tag; }

namespace {

// Splits "2.5gbit" into 2.5 and "gbit"; false when there is no number.
bool splitNumber(const std::string& text, double* value, std::string* unit) {
  if (text.empty()) return false;
  char* end = nullptr;
  *value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *value < 0) return false;
  *unit = std::string(end);
  return true;
}

}  // namespace

uint64_t parseBitsPerSecond(const std::string& text) {
  double value = 0;
  std::string unit;
  if (!splitNumber(text, &value, &unit)) return 0;
  struct Unit {
    const char* name;
    double bits;
  };
  constexpr Unit kUnits[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9},
                             {"bps", 8}, {"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9}};
  for (const Unit& u : kUnits) {
    if (unit == u.name) return static_cast<uint64_t>(value * u.bits);
  }
  return 0;
}

double parseDelayMicros(const std::string& text) {
  double value = 0;
  std::string unit;
  if (!splitNumber(text, &value, &unit)) return -1;
  if (unit == "us") return value;
  if (unit == "ms") return value * 1e3;
  if (unit == "s") return value * 1e6;
  return -1;
}

uint64_t tbfBurstBytes(uint64_t bitsPerSecond) {
  constexpr uint64_t kMinBurstBytes = 256 * 1024;
  return std::max(kMinBurstBytes, bitsPerSecond / 8 / 100);
}

std::string emulatedProfileJson(uint64_t burstBytes, int sharedCores) {
  return "{\n  \"network_burst_bytes\": " + std::to_string(burstBytes) +
         ",\n  \"shared_cores\": " + std::to_string(std::max(sharedCores, 1)) + "\n}\n";
}

std::string emulatedTopologyJson(int hosts, uint64_t bitsPerSecond, double delayMicros,
                                 const std::string& innetEndpoint) {
  const double gbPerSecond = static_cast<double>(bitsPerSecond) / 8e9;
  // Software latency of a veth hop plus any netem delay, in microseconds.
  const double latency = 20 + std::max(delayMicros, 0.0);
  std::string json = "{\n  \"prism_topology\": 1,\n  \"description\": \"prism-run emulation: " +
                     std::to_string(hosts) + " hosts on one switch\",\n";
  json += "  \"hosts\": {\"count\": " + std::to_string(hosts) +
          ", \"host\": {\"nics\": {\"count\": 1, \"bw\": " + std::to_string(gbPerSecond) + "}}},\n";
  json += "  \"switches\": [{\"name\": \"switch0\", \"tier\": 1}],\n";
  if (!innetEndpoint.empty()) {
    json += "  \"aggregation\": [{\"name\": \"innet0\", \"switch\": \"switch0\", \"address\": \"" +
            innetEndpoint + "\", \"bw\": " + std::to_string(gbPerSecond) + "}],\n";
  }
  json += "  \"links\": [";
  for (int h = 0; h < hosts; ++h) {
    json += std::string(h ? ",\n    " : "\n    ") + "{\"a\": \"host" + std::to_string(h) +
            "/nic0\", \"b\": \"switch0\", \"kind\": \"network\", \"bw\": " +
            std::to_string(gbPerSecond) + ", \"lat\": " + std::to_string(latency) + "}";
  }
  json += "\n  ]\n}\n";
  return json;
}

}  // namespace prism::run
