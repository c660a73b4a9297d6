// NVLink discovery through NVML, loaded at run time (libnvidia-ml.so.1 comes with the
// driver; Prism neither links nor needs its headers). For each GPU, the active links are
// grouped by the device at their far end: another GPU of this host (a direct NVLink) or an
// NVSwitch (every GPU behind one switch domain reaches the others through it).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "topology/graph.h"

namespace prism::topo {

/// Active NVLinks of one GPU to one remote device.
struct NvLinkPeer {
  std::string remoteBusId;   ///< lower-case "dddd:bb:dd.f" of the far end
  bool remoteIsGpu = false;  ///< else an NVSwitch (or another bridge)
  int links = 0;
  double gbPerLink = 0;  ///< one direction, GB/s
};

/// Per GPU bus id (lower case), its NVLink peers; empty without NVML or NVLink.
std::map<std::string, std::vector<NvLinkPeer>> queryNvLinks(
    const std::vector<std::string>& gpuBusIds);

/// Adds NVLink links to `g`: GPU to GPU where their links meet directly, and GPU to one
/// NvSwitch node of `host` ("<host name>/nvswitch") for links that end on switches, each
/// with links x gbPerLink of bandwidth. GPUs are found by their address (bus id).
void addNvLinks(Graph& g, int host, const std::map<std::string, std::vector<NvLinkPeer>>& peers);

/// One NVLink's bandwidth per direction for an NVML NVLink version (1 NVLink 1.0, ...
/// 5 NVLink 4.0 as on H100/H200, 6 NVLink 5.0); 0 for an unknown version.
double nvLinkGbPerLink(unsigned version);

}  // namespace prism::topo
