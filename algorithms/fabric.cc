#include "algorithms/fabric.h"

#include <algorithm>
#include <string>

#include "algorithms/in_network_model.h"

namespace prism {
namespace {

/// Adds one shared-memory out and in port per rank; returns the index of rank 0's out port.
int addRankPorts(FabricModel& f, int nranks) {
  const int first = static_cast<int>(f.links.size());
  for (int r = 0; r < nranks; ++r) {
    f.links.push_back({"rank " + std::to_string(r) + " out", f.profile.shmBytesPerMicro, 0, false});
    f.links.push_back({"rank " + std::to_string(r) + " in", f.profile.shmBytesPerMicro, 0, false});
    f.memoryPort.push_back(first + 2 * r);
  }
  return first;
}

}  // namespace

FabricModel sharedMemoryFabric(int nranks, const CostProfile& profile) {
  return switchedFabric(std::vector<int>(static_cast<size_t>(std::max(nranks, 0)), 0), 1, 0,
                        profile);
}

FabricModel switchedFabric(const std::vector<int>& hostOf, double linkBytesPerMicro,
                           double linkLatencyMicros, const CostProfile& profile) {
  FabricModel f;
  f.nranks = static_cast<int>(hostOf.size());
  f.profile = profile;
  const int ports = addRankPorts(f, f.nranks);
  const int hosts = hostOf.empty() ? 0 : *std::max_element(hostOf.begin(), hostOf.end()) + 1;
  const int uplinks = static_cast<int>(f.links.size());
  // One host has no network links; the ports are its whole fabric.
  for (int h = 0; h < (hosts > 1 ? hosts : 0); ++h) {
    f.links.push_back({"host " + std::to_string(h) + " uplink", linkBytesPerMicro,
                       linkLatencyMicros, true, profile.networkBurstBytes});
    f.links.push_back({"host " + std::to_string(h) + " downlink", linkBytesPerMicro,
                       linkLatencyMicros, true, profile.networkBurstBytes});
  }
  f.paths.resize(static_cast<size_t>(f.nranks) * f.nranks);
  for (int a = 0; a < f.nranks; ++a) {
    for (int b = 0; b < f.nranks; ++b) {
      if (a == b) continue;
      std::vector<int>& path = f.paths[static_cast<size_t>(a) * f.nranks + b];
      path.push_back(ports + 2 * a);
      if (hostOf[a] != hostOf[b]) {
        path.push_back(uplinks + 2 * hostOf[a]);
        path.push_back(uplinks + 2 * hostOf[b] + 1);
      }
      path.push_back(ports + 2 * b + 1);
    }
  }
  return f;
}

InNetworkCosts inNetworkCostsFor(const FabricModel& fabric, const std::vector<int>& hostOf) {
  InNetworkCosts costs;
  const FabricLink* slowest = nullptr;
  for (const FabricLink& link : fabric.links) {
    if (link.network && (slowest == nullptr || link.bytesPerMicro < slowest->bytesPerMicro))
      slowest = &link;
  }
  if (slowest == nullptr) return costs;
  int perHost = 1;
  for (int h : hostOf)
    perHost = std::max<int>(perHost, static_cast<int>(std::count(hostOf.begin(), hostOf.end(), h)));
  const CostProfile& profile = fabric.profile;
  costs.linkBytesPerMicro = slowest->bytesPerMicro * profile.networkEfficiency / perHost;
  costs.latencyMicros = slowest->latencyMicros;
  costs.burstBytes = slowest->burstBytes / perHost;
  costs.stepMicros = profile.networkStepMicros;
  costs.sharedCores = profile.sharedCores;
  costs.wakeMicros = profile.wakeMicros;
  return costs;
}

void useNetworkFigures(FabricModel& fabric, double bytesPerMicro, double latencyMicros) {
  if (bytesPerMicro <= 0) return;
  for (FabricLink& link : fabric.links) {
    if (!link.network) continue;
    link.bytesPerMicro = bytesPerMicro;
    link.latencyMicros = latencyMicros / 2;
  }
}

}  // namespace prism
