#include "topology/nvlink.h"

#include <dlfcn.h>

#include <cstdio>
#include <set>

namespace prism::topo {

namespace {

// The few NVML entry points and types used here, as the driver's libnvidia-ml.so.1
// exports them (NVML is a stable C ABI; its header is not needed).
using NvmlDevice = struct NvmlDeviceOpaque*;
using NvmlReturn = int;
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr unsigned kNvmlMaxLinks = 18;
struct NvmlPciInfo {
  char busIdLegacy[16];
  unsigned domain;
  unsigned bus;
  unsigned device;
  unsigned pciDeviceId;
  unsigned pciSubSystemId;
  char busId[32];
};

struct Nvml {
  void* library = nullptr;
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*byBusId)(const char*, NvmlDevice*) = nullptr;
  NvmlReturn (*linkState)(NvmlDevice, unsigned, int*) = nullptr;
  NvmlReturn (*linkVersion)(NvmlDevice, unsigned, unsigned*) = nullptr;
  NvmlReturn (*remotePci)(NvmlDevice, unsigned, NvmlPciInfo*) = nullptr;

  Nvml() {
    library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) return;
    load(init, "nvmlInit_v2");
    load(shutdown, "nvmlShutdown");
    load(byBusId, "nvmlDeviceGetHandleByPciBusId_v2");
    load(linkState, "nvmlDeviceGetNvLinkState");
    load(linkVersion, "nvmlDeviceGetNvLinkVersion");
    load(remotePci, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
    if (!usable() || init() != kNvmlSuccess) init = nullptr;
  }
  ~Nvml() {
    if (init != nullptr) shutdown();
    if (library != nullptr) dlclose(library);
  }
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  template <typename F>
  void load(F& f, const char* name) {
    f = reinterpret_cast<F>(dlsym(library, name));
  }
  bool usable() const {
    return init && shutdown && byBusId && linkState && linkVersion && remotePci;
  }
};

std::string busIdOf(const NvmlPciInfo& pci) {
  char text[32];
  std::snprintf(text, sizeof(text), "%04x:%02x:%02x.0", pci.domain, pci.bus, pci.device);
  return text;
}

}  // namespace

double nvLinkGbPerLink(unsigned version) {
  if (version == 1) return 20;                  // NVLink 1.0
  if (version >= 2 && version <= 6) return 25;  // NVLink 2.0 to 4.0
  if (version == 7) return 50;                  // NVLink 5.0
  return 0;
}

std::map<std::string, std::vector<NvLinkPeer>> queryNvLinks(
    const std::vector<std::string>& gpuBusIds) {
  std::map<std::string, std::vector<NvLinkPeer>> out;
  Nvml nvml;
  if (nvml.init == nullptr) return out;
  const std::set<std::string> gpus(gpuBusIds.begin(), gpuBusIds.end());
  for (const std::string& busId : gpuBusIds) {
    NvmlDevice device = nullptr;
    if (nvml.byBusId(busId.c_str(), &device) != kNvmlSuccess) continue;
    std::map<std::string, NvLinkPeer> byRemote;
    for (unsigned link = 0; link < kNvmlMaxLinks; ++link) {
      int active = 0;
      NvmlPciInfo pci{};
      unsigned version = 0;
      if (nvml.linkState(device, link, &active) != kNvmlSuccess || active == 0) continue;
      if (nvml.remotePci(device, link, &pci) != kNvmlSuccess) continue;
      nvml.linkVersion(device, link, &version);
      NvLinkPeer& peer = byRemote[busIdOf(pci)];
      peer.remoteBusId = busIdOf(pci);
      peer.remoteIsGpu = gpus.count(peer.remoteBusId) > 0;
      peer.links += 1;
      peer.gbPerLink = nvLinkGbPerLink(version);
    }
    for (auto& [remote, peer] : byRemote)
      if (peer.gbPerLink > 0) out[busId].push_back(peer);
  }
  return out;
}

void addNvLinks(Graph& g, int host, const std::map<std::string, std::vector<NvLinkPeer>>& peers) {
  constexpr double kNvLinkLatency = 1.0;  // µs, one hop
  auto gpuAt = [&](const std::string& busId) {
    for (int id : g.devicesOf(host, NodeKind::Gpu))
      if (g.nodes[id].address == busId) return id;
    return -1;
  };
  int nvswitch = -1;
  std::map<int, double> toSwitch;  // GPU node -> bandwidth of all its links to switches
  std::set<std::pair<int, int>> linked;
  for (const auto& [busId, list] : peers) {
    const int gpu = gpuAt(busId);
    if (gpu < 0) continue;
    for (const NvLinkPeer& peer : list) {
      const double bandwidth = peer.links * peer.gbPerLink;
      if (!peer.remoteIsGpu) {
        toSwitch[gpu] += bandwidth;
        continue;
      }
      const int other = gpuAt(peer.remoteBusId);
      // Each GPU reports the pair; one link per pair.
      if (other < 0 || !linked.insert({std::min(gpu, other), std::max(gpu, other)}).second)
        continue;
      g.addLink(gpu, other, LinkKind::NvLink, bandwidth, kNvLinkLatency);
    }
  }
  for (const auto& [gpu, bandwidth] : toSwitch) {
    if (nvswitch < 0)
      nvswitch = g.addNode(makeNode(NodeKind::NvSwitch, g.nodes[host].name + "/nvswitch", host));
    g.addLink(gpu, nvswitch, LinkKind::NvLink, bandwidth, kNvLinkLatency);
  }
}

}  // namespace prism::topo
