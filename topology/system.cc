#include "topology/system.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "base/error.h"
#include "topology/fabric_parts.h"
#include "topology/routing.h"

namespace prism::topo {

namespace {

/// A graph from the ranks' own descriptions, for communicators without a fabric file: each
/// host gets the NUMA nodes, GPUs and NICs its ranks named, and one switch joins the NICs.
Graph synthesize(const std::vector<RankInfo>& ranks, const std::vector<int>& hostOf, int nhosts) {
  Graph g;
  std::vector<int> switchId{-1};
  for (int h = 0; h < nhosts; ++h) {
    std::set<int> numas, gpus, nics;
    double nicBw = 0;
    std::string identity;
    for (size_t r = 0; r < ranks.size(); ++r) {
      if (hostOf[r] != h) continue;
      identity = ranks[r].host;
      numas.insert(std::max(ranks[r].numa, 0));
      if (ranks[r].gpu >= 0) gpus.insert(ranks[r].gpu);
      if (ranks[r].nic >= 0) nics.insert(ranks[r].nic);
      nicBw = std::max(nicBw, ranks[r].nicBandwidth);
    }
    if (nhosts > 1 && nics.empty()) nics.insert(0);
    Node hostNode = makeNode(NodeKind::Host, "host" + std::to_string(h));
    hostNode.index = h;
    hostNode.address = identity;
    const int host = g.addNode(std::move(hostNode));
    const std::string prefix = g.nodes[host].name + "/";
    const int pkg = g.addNode(makeNode(NodeKind::Package, prefix + "socket0", host));
    std::map<int, int> numaId;
    for (int n : numas) {
      Node node = makeNode(NodeKind::Numa, prefix + "numa" + std::to_string(n), host);
      node.index = n;
      numaId[n] = g.addNode(std::move(node));
      g.addLink(numaId[n], pkg, LinkKind::Memory, kMemoryBandwidth, kMemoryLatency);
    }
    const int numa0 = numaId.begin()->second;
    for (int i : gpus) {
      Node node = makeNode(NodeKind::Gpu, prefix + "gpu" + std::to_string(i), host);
      node.index = i;
      node.numa = numa0;
      g.addLink(g.addNode(std::move(node)), numa0, LinkKind::Pcie, kPcieBandwidth, kPcieLatency);
    }
    for (int i : nics) {
      Node node = makeNode(NodeKind::Nic, prefix + "nic" + std::to_string(i), host);
      node.index = i;
      node.rail = i;
      node.numa = numa0;
      node.bandwidth = nicBw > 0 ? nicBw : kNicBandwidth;
      const double bw = node.bandwidth;
      const int id = g.addNode(std::move(node));
      g.addLink(id, numa0, LinkKind::Pcie, kPcieBandwidth, kPcieLatency);
      if (switchId[0] < 0) {
        Node sw = makeNode(NodeKind::Switch, "switch0");
        sw.tier = 1;
        switchId[0] = g.addNode(std::move(sw));
      }
      g.addLink(id, switchId[0], LinkKind::Network, bw, kNetworkLatency);
    }
  }
  return g;
}

/// `g` without its Rank nodes (a dump loaded back as a fabric file has them), ids remapped.
Graph withoutRanks(const Graph& g) {
  std::vector<int> remap(g.nodes.size(), -1);
  Graph out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].kind == NodeKind::Rank) continue;
    remap[i] = static_cast<int>(out.nodes.size());
    out.nodes.push_back(g.nodes[i]);
  }
  auto fix = [&](int& id) { id = id >= 0 ? remap[id] : -1; };
  for (Node& n : out.nodes) {
    fix(n.host);
    fix(n.numa);
    fix(n.gpu);
    fix(n.nic);
    fix(n.attachedTo);
  }
  for (Link l : g.links) {
    fix(l.a);
    fix(l.b);
    if (l.a >= 0 && l.b >= 0) out.links.push_back(l);
  }
  return out;
}

int deviceWithIndex(const Graph& g, int host, NodeKind kind, int index) {
  for (int id : g.devicesOf(host, kind)) {
    if (g.nodes[id].index == index) return id;
  }
  return -1;
}

/// Dense group indices for a key per rank, in order of first appearance.
std::vector<std::vector<int>> groupBy(const std::vector<int64_t>& key) {
  std::map<int64_t, size_t> index;
  std::vector<std::vector<int>> out;
  for (size_t r = 0; r < key.size(); ++r) {
    auto [it, fresh] = index.try_emplace(key[r], out.size());
    if (fresh) out.emplace_back();
    out[it->second].push_back(static_cast<int>(r));
  }
  return out;
}

}  // namespace

SystemTopology::SystemTopology(const std::vector<RankInfo>& ranks, const Graph* fabric) {
  std::map<std::string, int> hostIndex;
  for (const RankInfo& info : ranks) {
    auto [it, fresh] = hostIndex.try_emplace(info.host, static_cast<int>(hostIndex.size()));
    hostOf_.push_back(it->second);
  }
  ranksOnHost_.resize(hostIndex.size());
  for (size_t r = 0; r < ranks.size(); ++r) ranksOnHost_[hostOf_[r]].push_back(static_cast<int>(r));

  const bool useFabric = fabric != nullptr && !fabric->nodesOf(NodeKind::Host).empty();
  graph_ = useFabric ? withoutRanks(*fabric) : synthesize(ranks, hostOf_, nhosts());
  if (useFabric && graph_.nodesOf(NodeKind::Host).size() < hostIndex.size()) {
    throw Error(ncclInvalidArgument, "the topology file describes " +
                                         std::to_string(graph_.nodesOf(NodeKind::Host).size()) +
                                         " hosts but the communicator's ranks run on " +
                                         std::to_string(hostIndex.size()));
  }
  place(ranks);
  incidence_ = graph_.incidence();
  buildGroups();
}

void SystemTopology::place(const std::vector<RankInfo>& ranks) {
  const std::vector<int> hosts = graph_.nodesOf(NodeKind::Host);
  for (size_t r = 0; r < ranks.size(); ++r) {
    const RankInfo& info = ranks[r];
    Placement p;
    p.host = hosts[hostOf_[r]];
    p.numa = deviceWithIndex(graph_, p.host, NodeKind::Numa, info.numa);
    p.gpu = deviceWithIndex(graph_, p.host, NodeKind::Gpu, info.gpu);
    p.nic = deviceWithIndex(graph_, p.host, NodeKind::Nic, info.nic);
    if (p.numa < 0) p.numa = p.gpu >= 0 ? graph_.nodes[p.gpu].numa : -1;
    if (p.numa < 0) {
      const std::vector<int> numas = graph_.devicesOf(p.host, NodeKind::Numa);
      if (numas.empty()) {
        throw Error(ncclInvalidArgument,
                    "topology host '" + graph_.nodes[p.host].name + "' has no NUMA node");
      }
      p.numa = numas.front();
    }
    placement_.push_back(p);
  }
  // Ranks that named no NIC: a GPU rank takes the NIC nearest its GPU, a host rank the
  // NIC numbered by its local rank, so host ranks spread over the rails.
  const auto incidence = graph_.incidence();
  for (size_t r = 0; r < ranks.size(); ++r) {
    Placement& p = placement_[r];
    const std::vector<int> nics = graph_.devicesOf(p.host, NodeKind::Nic);
    if (p.nic >= 0 || nics.empty()) continue;
    if (p.gpu >= 0) {
      double best = std::numeric_limits<double>::infinity();
      for (int nic : nics) {
        const auto route = shortestRoute(graph_, incidence, p.gpu, nic);
        if (route && route->latency < best) {
          best = route->latency;
          p.nic = nic;
        }
      }
    }
    if (p.nic < 0) {
      const auto& local = ranksOnHost_[hostOf_[r]];
      const size_t localRank =
          std::find(local.begin(), local.end(), static_cast<int>(r)) - local.begin();
      p.nic = nics[localRank % nics.size()];
    }
  }
  for (size_t r = 0; r < ranks.size(); ++r) {
    const Placement& p = placement_[r];
    Node n = makeNode(NodeKind::Rank, "rank" + std::to_string(r), p.host);
    n.index = static_cast<int>(r);
    n.numa = p.numa;
    n.gpu = p.gpu;
    n.nic = p.nic;
    graph_.addNode(std::move(n));
  }
}

void SystemTopology::buildGroups() {
  const size_t n = hostOf_.size();
  std::vector<int64_t> host(n), nvlink(n), rail(n);
  for (size_t r = 0; r < n; ++r) {
    const Placement& p = placement_[r];
    host[r] = hostOf_[r];
    const int domain = p.gpu >= 0 ? graph_.nodes[p.gpu].nvlinkDomain : -1;
    nvlink[r] = domain >= 0 ? domain : -1 - static_cast<int64_t>(r);
    if (p.nic >= 0) {
      const Node& nic = graph_.nodes[p.nic];
      rail[r] = nic.rail >= 0 ? nic.rail : nic.index;
    } else {
      const auto& local = ranksOnHost_[hostOf_[r]];
      rail[r] = std::find(local.begin(), local.end(), static_cast<int>(r)) - local.begin();
    }
  }
  hostGroups_ = groupBy(host);
  nvlinkGroups_ = groupBy(nvlink);
  railGroups_ = groupBy(rail);
}

const std::vector<std::vector<int>>& SystemTopology::groups(Level level) const {
  switch (level) {
    case Level::Host:
      return hostGroups_;
    case Level::NvLink:
      return nvlinkGroups_;
    case Level::Rail:
      return railGroups_;
  }
  return hostGroups_;
}

Path SystemTopology::path(int a, int b) const {
  const Placement& pa = placement_[a];
  const Placement& pb = placement_[b];
  std::vector<std::pair<int, int>> legs;
  // Between hosts, traffic leaves through the rank's own NIC, unless both GPUs share an
  // NVLink domain that spans the hosts (multi-node NVLink).
  const bool sameDomain = pa.gpu >= 0 && pb.gpu >= 0 && graph_.nodes[pa.gpu].nvlinkDomain >= 0 &&
                          graph_.nodes[pa.gpu].nvlinkDomain == graph_.nodes[pb.gpu].nvlinkDomain;
  if (pa.host != pb.host && pa.nic >= 0 && pb.nic >= 0 && !sameDomain) {
    legs = {{pa.endpoint(), pa.nic}, {pa.nic, pb.nic}, {pb.nic, pb.endpoint()}};
  } else {
    legs = {{pa.endpoint(), pb.endpoint()}};
  }
  Path out;
  for (const auto& [from, to] : legs) {
    const auto route = routeInTree(graph_, treeFrom(from), from, to);
    if (!route) {
      throw Error(ncclInvalidArgument, "topology: no route from rank " + std::to_string(a) + " (" +
                                           graph_.nodes[from].name + ") to rank " +
                                           std::to_string(b) + " (" + graph_.nodes[to].name + ")");
    }
    out.links.insert(out.links.end(), route->links.begin(), route->links.end());
  }
  // Two ranks on one NUMA node (host memory) still share its memory port.
  if (out.links.empty()) {
    for (int l : incidence_[pa.numa]) {
      if (graph_.links[l].kind == LinkKind::Memory) out.links.push_back(l);
    }
  }
  out.bandwidth = out.links.empty() ? kMemoryBandwidth : std::numeric_limits<double>::infinity();
  bool nvlink = false, network = false;
  for (int l : out.links) {
    const Link& link = graph_.links[l];
    out.latency += link.latency;
    out.bandwidth = std::min(out.bandwidth, link.bandwidth);
    nvlink = nvlink || link.kind == LinkKind::NvLink;
    network = network || link.kind == LinkKind::Network || link.kind == LinkKind::Optical;
  }
  if (network || (pa.host != pb.host && !nvlink)) {
    out.linkClass = LinkClass::Network;
  } else if (nvlink) {
    out.linkClass = LinkClass::NvLink;
  } else if (pa.numa == pb.numa && pa.gpu < 0 && pb.gpu < 0) {
    out.linkClass = LinkClass::SameNuma;
  } else {
    out.linkClass = LinkClass::SameHost;
  }
  return out;
}

const std::vector<int>& SystemTopology::treeFrom(int node) const {
  std::lock_guard<std::mutex> lock(*treesMutex_);
  auto it = trees_.find(node);
  if (it == trees_.end()) {
    it = trees_.emplace(node, shortestTree(graph_, incidence_, node)).first;
  }
  return it->second;  // std::map never moves its elements
}

std::vector<AggregationService> SystemTopology::aggregationPoints() const {
  std::vector<AggregationService> out;
  for (int id : graph_.nodesOf(NodeKind::AggregationPoint)) {
    const Node& n = graph_.nodes[id];
    AggregationService s;
    s.address = n.address;
    s.node = id;
    s.switchNode = n.attachedTo;
    s.tier = n.attachedTo >= 0 ? graph_.nodes[n.attachedTo].tier : 0;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace prism::topo
