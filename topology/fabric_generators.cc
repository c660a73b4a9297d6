// The "fabric" section: compact generators that expand into switches and links over the
// hosts already in the graph, so a 1000-host file stays a few lines long.
#include <algorithm>

#include "topology/fabric_parts.h"

namespace prism::topo {

namespace {

struct Common {
  double bw = 0;  // 0: each NIC's own speed
  double lat = kNetworkLatency;
  int spines = 0;
  double oversubscription = 1;
};

Common readCommon(const JsonView& f) {
  Common c;
  c.bw = f.number("bw", 0);
  c.lat = f.number("lat", kNetworkLatency);
  c.spines = f.integer("spines", 0);
  c.oversubscription = f.number("oversubscription", 1, 1);
  return c;
}

double nicBandwidth(const Graph& g, int nic, const Common& c) {
  if (c.bw > 0) return c.bw;
  return g.nodes[nic].bandwidth > 0 ? g.nodes[nic].bandwidth : kNicBandwidth;
}

int addSwitch(Graph& g, const std::string& name, int index, int tier, double oversub) {
  Node n = makeNode(NodeKind::Switch, name);
  n.index = index;
  n.tier = tier;
  n.oversubscription = oversub;
  return g.addNode(std::move(n));
}

/// Leaves (tier 1) each get an uplink to every spine (tier 2), sized so that the leaf's
/// downlink bandwidth over its uplink bandwidth is the oversubscription factor.
void addSpines(Graph& g, const std::vector<int>& leaves, const std::vector<double>& downBw,
               const Common& c) {
  std::vector<int> spines;
  for (int s = 0; s < c.spines; ++s) {
    spines.push_back(addSwitch(g, "spine" + std::to_string(s), s, 2, 1));
  }
  for (size_t l = 0; l < leaves.size(); ++l) {
    if (downBw[l] <= 0) continue;
    const double up = downBw[l] / (c.spines * c.oversubscription);
    for (int s : spines) {
      g.addLink(leaves[l], s, LinkKind::Network, up, c.lat, c.oversubscription);
    }
  }
}

void railOptimized(Graph& g, const JsonView& f) {
  f.allowKeys({"type", "bw", "lat", "spines", "oversubscription", "rails"});
  const Common c = readCommon(f);
  const std::vector<int> hosts = g.nodesOf(NodeKind::Host);
  int rails = 0;
  for (int nic : g.nodesOf(NodeKind::Nic)) rails = std::max(rails, g.nodes[nic].rail + 1);
  if (f.has("rails")) {
    const int declared = f.integer("rails", 0, 1);
    for (size_t h = 0; h < hosts.size(); ++h) {
      for (int nic : g.devicesOf(hosts[h], NodeKind::Nic)) {
        if (g.nodes[nic].rail >= declared) {
          const nlohmann::json none;
          JsonView(none, f.source(),
                   "hosts[" + std::to_string(h) + "].nics[" + std::to_string(g.nodes[nic].index) +
                       "].rail")
              .fail("rail " + std::to_string(g.nodes[nic].rail) + " but fabric.rails is " +
                    std::to_string(declared));
        }
      }
    }
    rails = declared;
  }
  if (rails == 0) f.fail("rail_optimized needs hosts with NICs");
  std::vector<int> leaves;
  for (int r = 0; r < rails; ++r) {
    leaves.push_back(addSwitch(g, "rail" + std::to_string(r), r, 1, c.oversubscription));
  }
  std::vector<double> down(static_cast<size_t>(rails), 0);
  for (int nic : g.nodesOf(NodeKind::Nic)) {
    const int r = g.nodes[nic].rail;
    const double bw = nicBandwidth(g, nic, c);
    g.addLink(nic, leaves[r], LinkKind::Network, bw, c.lat);
    down[r] += bw;
  }
  addSpines(g, leaves, down, c);
}

void fatTree(Graph& g, const JsonView& f) {
  f.allowKeys({"type", "bw", "lat", "spines", "oversubscription", "hosts_per_leaf"});
  const Common c = readCommon(f);
  if (!f.has("hosts_per_leaf")) f.failAt("hosts_per_leaf", "missing");
  const int perLeaf = f.integer("hosts_per_leaf", 1, 1);
  const std::vector<int> hosts = g.nodesOf(NodeKind::Host);
  const int nleaves = (static_cast<int>(hosts.size()) + perLeaf - 1) / perLeaf;
  if (nleaves > 1 && c.spines == 0) f.failAt("spines", "several leaves need spines to connect");
  std::vector<int> leaves;
  for (int l = 0; l < nleaves; ++l) {
    leaves.push_back(addSwitch(g, "leaf" + std::to_string(l), l, 1, c.oversubscription));
  }
  std::vector<double> down(static_cast<size_t>(nleaves), 0);
  for (size_t h = 0; h < hosts.size(); ++h) {
    const std::vector<int> nics = g.devicesOf(hosts[h], NodeKind::Nic);
    if (nics.empty()) f.fail("host '" + g.nodes[hosts[h]].name + "' has no NIC to connect");
    const size_t leaf = h / static_cast<size_t>(perLeaf);
    for (int nic : nics) {
      const double bw = nicBandwidth(g, nic, c);
      g.addLink(nic, leaves[leaf], LinkKind::Network, bw, c.lat);
      down[leaf] += bw;
    }
  }
  addSpines(g, leaves, down, c);
}

/// Hosts sit on a grid in index order (the first dimension varies fastest); NIC 0 of each
/// host links to NIC 0 of its two neighbours in every dimension, with wrap-around.
void torus(Graph& g, const JsonView& f) {
  f.allowKeys({"type", "bw", "lat", "dims"});
  const Common c = readCommon(f);
  const JsonView dimsView = f.at("dims");
  std::vector<int> dims;
  size_t positions = 1;
  for (size_t i = 0; i < dimsView.size(); ++i) {
    const auto& d = dimsView.at(i).raw();
    if (!d.is_number_integer() || d.get<int>() < 2) {
      dimsView.at(i).fail("a torus dimension must be an integer >= 2");
    }
    dims.push_back(d.get<int>());
    positions *= static_cast<size_t>(dims.back());
  }
  if (dims.empty()) f.failAt("dims", "needs at least one dimension");
  const std::vector<int> hosts = g.nodesOf(NodeKind::Host);
  if (positions != hosts.size()) {
    f.failAt("dims", "the torus has " + std::to_string(positions) + " positions but there are " +
                         std::to_string(hosts.size()) + " hosts");
  }
  std::vector<int> nic0;
  for (int h : hosts) {
    const std::vector<int> nics = g.devicesOf(h, NodeKind::Nic);
    if (nics.empty()) f.fail("host '" + g.nodes[h].name + "' has no NIC for the torus");
    nic0.push_back(nics[0]);
  }
  size_t stride = 1;
  for (int d : dims) {
    for (size_t h = 0; h < hosts.size(); ++h) {
      const size_t coord = (h / stride) % static_cast<size_t>(d);
      const size_t next = h - coord * stride + ((coord + 1) % d) * stride;
      if (d == 2 && coord == 1) continue;  // both neighbours are the same host
      const int a = nic0[h], b = nic0[next];
      g.addLink(a, b, LinkKind::Network, std::min(nicBandwidth(g, a, c), nicBandwidth(g, b, c)),
                c.lat);
    }
    stride *= static_cast<size_t>(d);
  }
}

}  // namespace

void addGeneratedFabric(Graph& graph, const JsonView& fabric) {
  const std::string type = fabric.string("type", "");
  if (type == "rail_optimized") {
    railOptimized(graph, fabric);
  } else if (type == "fat_tree") {
    fatTree(graph, fabric);
  } else if (type == "torus") {
    torus(graph, fabric);
  } else {
    fabric.failAt(
        "type", "unknown fabric type '" + type + "' (expected fat_tree, rail_optimized or torus)");
  }
}

}  // namespace prism::topo
