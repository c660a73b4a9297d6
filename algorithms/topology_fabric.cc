#include "algorithms/topology_fabric.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

namespace prism {
namespace {

bool crossesNetwork(topo::LinkKind kind) {
  return kind == topo::LinkKind::Network || kind == topo::LinkKind::Optical;
}

/// The direction a path takes through each of its links: the node it enters each link from.
/// A path's links are consecutive, so each link's entry is the end it shares with the
/// previous link (the first link's entry is the end it does not share with the second).
std::vector<int> entryNodes(const topo::Graph& g, const std::vector<int>& links) {
  std::vector<int> entry(links.size(), -1);
  if (links.empty()) return entry;
  const topo::Link& first = g.links[static_cast<size_t>(links[0])];
  int at = first.a;
  if (links.size() > 1) {
    const topo::Link& second = g.links[static_cast<size_t>(links[1])];
    at = (first.a == second.a || first.a == second.b) ? first.b : first.a;
  }
  for (size_t i = 0; i < links.size(); ++i) {
    const topo::Link& link = g.links[static_cast<size_t>(links[i])];
    entry[i] = at;
    at = at == link.a ? link.b : link.a;
  }
  return entry;
}

}  // namespace

FabricModel fabricFromTopology(const topo::SystemTopology& topology, const CostProfile& profile) {
  const topo::Graph& g = topology.graph();
  FabricModel f = sharedMemoryFabric(topology.nranks(), profile);
  std::map<std::pair<int, int>, int> directed;  // (graph link, entry node) -> fabric link
  auto fabricLink = [&](int link, int entry) {
    auto [it, added] = directed.emplace(std::make_pair(link, entry), 0);
    if (added) {
      const topo::Link& l = g.links[static_cast<size_t>(link)];
      const int exit = entry == l.a ? l.b : l.a;
      it->second = static_cast<int>(f.links.size());
      f.links.push_back({g.nodes[static_cast<size_t>(entry)].name + " -> " +
                             g.nodes[static_cast<size_t>(exit)].name,
                         l.bandwidth * 1e3, l.latency, true, profile.networkBurstBytes});
    }
    return it->second;
  };
  // GPU ranks of one NVLink domain move data over NVLink, not through host memory: their
  // ports (sharedMemoryFabric's out and in link per rank) run at the NVLink speed.
  for (int a = 0; a < f.nranks; ++a) {
    for (int b : topology.ranksOnHost(topology.hostOf(a))) {
      if (b == a) continue;
      const topo::Path route = topology.path(a, b);
      if (route.linkClass != topo::LinkClass::NvLink) continue;
      const double speed = route.bandwidth * 1e3;            // GB/s -> bytes per microsecond
      const int out = f.memoryPort[static_cast<size_t>(a)];  // then its in port, out + 1
      for (int port : {out, out + 1}) {
        FabricLink& link = f.links[static_cast<size_t>(port)];
        link.bytesPerMicro = std::max(link.bytesPerMicro, speed);
      }
      break;
    }
  }
  for (int a = 0; a < f.nranks; ++a) {
    for (int b = 0; b < f.nranks; ++b) {
      if (a == b || topology.hostOf(a) == topology.hostOf(b)) continue;
      const topo::Path route = topology.path(a, b);
      const std::vector<int> entry = entryNodes(g, route.links);
      std::vector<int>& path = f.paths[static_cast<size_t>(a) * f.nranks + b];
      const int inPort = path.back();  // sharedMemoryFabric: {a out, b in}
      path.pop_back();
      for (size_t i = 0; i < route.links.size(); ++i) {
        if (crossesNetwork(g.links[static_cast<size_t>(route.links[i])].kind)) {
          path.push_back(fabricLink(route.links[i], entry[i]));
        }
      }
      path.push_back(inPort);
    }
  }
  return f;
}

}  // namespace prism
