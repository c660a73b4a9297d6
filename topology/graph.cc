#include "topology/graph.h"

#include <array>
#include <utility>

#include "base/error.h"

namespace prism::topo {

namespace {

constexpr std::array<std::pair<NodeKind, std::string_view>, 11> kNodeKinds{{
    {NodeKind::Host, "host"},
    {NodeKind::Package, "package"},
    {NodeKind::Numa, "numa"},
    {NodeKind::Gpu, "gpu"},
    {NodeKind::Nic, "nic"},
    {NodeKind::PciSwitch, "pci_switch"},
    {NodeKind::NvSwitch, "nvswitch"},
    {NodeKind::Switch, "switch"},
    {NodeKind::OpticalSwitch, "optical_switch"},
    {NodeKind::AggregationPoint, "aggregation_point"},
    {NodeKind::Rank, "rank"},
}};

constexpr std::array<std::pair<LinkKind, std::string_view>, 6> kLinkKinds{{
    {LinkKind::Memory, "memory"},
    {LinkKind::InterSocket, "inter_socket"},
    {LinkKind::Pcie, "pcie"},
    {LinkKind::NvLink, "nvlink"},
    {LinkKind::Network, "network"},
    {LinkKind::Optical, "optical"},
}};

}  // namespace

Node makeNode(NodeKind kind, std::string name, int host) {
  Node n;
  n.kind = kind;
  n.name = std::move(name);
  n.host = host;
  return n;
}

int Graph::addNode(Node node) {
  if (node.name.empty()) throw Error(ncclInvalidArgument, "topology node without a name");
  if (find(node.name) >= 0) {
    throw Error(ncclInvalidArgument, "duplicate topology node name '" + node.name + "'");
  }
  nodes.push_back(std::move(node));
  return static_cast<int>(nodes.size()) - 1;
}

int Graph::addLink(int a, int b, LinkKind kind, double bandwidth, double latency,
                   double oversubscription) {
  const int n = static_cast<int>(nodes.size());
  if (a < 0 || b < 0 || a >= n || b >= n || a == b) {
    throw Error(ncclInvalidArgument, "topology link between invalid nodes " + std::to_string(a) +
                                         " and " + std::to_string(b));
  }
  if (!(bandwidth > 0) || latency < 0 || !(oversubscription >= 1)) {
    throw Error(ncclInvalidArgument, "topology link " + nodes[a].name + " - " + nodes[b].name +
                                         " needs bandwidth > 0, latency >= 0 and "
                                         "oversubscription >= 1");
  }
  links.push_back(Link{a, b, kind, bandwidth, latency, oversubscription});
  return static_cast<int>(links.size()) - 1;
}

int Graph::find(std::string_view name) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int> Graph::nodesOf(NodeKind kind) const {
  std::vector<int> out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].kind == kind) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<int> Graph::devicesOf(int host, NodeKind kind) const {
  std::vector<int> out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].kind == kind && nodes[i].host == host) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<std::vector<int>> Graph::incidence() const {
  std::vector<std::vector<int>> out(nodes.size());
  for (size_t l = 0; l < links.size(); ++l) {
    out[links[l].a].push_back(static_cast<int>(l));
    out[links[l].b].push_back(static_cast<int>(l));
  }
  return out;
}

std::string_view kindName(NodeKind kind) {
  for (const auto& [k, name] : kNodeKinds) {
    if (k == kind) return name;
  }
  return "?";
}

std::string_view kindName(LinkKind kind) {
  for (const auto& [k, name] : kLinkKinds) {
    if (k == kind) return name;
  }
  return "?";
}

bool parseKind(std::string_view name, NodeKind& out) {
  for (const auto& [k, n] : kNodeKinds) {
    if (n == name) {
      out = k;
      return true;
    }
  }
  return false;
}

bool parseKind(std::string_view name, LinkKind& out) {
  for (const auto& [k, n] : kLinkKinds) {
    if (n == name) {
      out = k;
      return true;
    }
  }
  return false;
}

}  // namespace prism::topo
