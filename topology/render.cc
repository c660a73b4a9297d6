#include "topology/render.h"

#include <cstdio>
#include <sstream>

namespace prism::topo {

namespace {

std::string number(double v, const char* format = "%g") {
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string describe(const Node& n) {
  std::string out = std::string(kindName(n.kind)) + " " + n.name;
  switch (n.kind) {
    case NodeKind::Package:
    case NodeKind::Numa:
      if (n.cores > 0) out += ", " + std::to_string(n.cores) + " cores";
      if (n.cacheBytes > 0) out += ", L3 " + std::to_string(n.cacheBytes >> 20) + " MiB";
      if (n.memoryBytes > 0) out += ", " + std::to_string(n.memoryBytes >> 30) + " GiB";
      break;
    case NodeKind::Gpu:
      if (n.nvlinkDomain >= 0) out += ", NVLink domain " + std::to_string(n.nvlinkDomain);
      break;
    case NodeKind::Nic:
      out += ", " + (n.bandwidth > 0 ? number(n.bandwidth) + " GB/s" : "speed unknown");
      if (n.rail >= 0) out += ", rail " + std::to_string(n.rail);
      break;
    case NodeKind::Switch:
      out += ", tier " + std::to_string(n.tier);
      if (n.oversubscription != 1) out += ", oversubscription " + number(n.oversubscription);
      break;
    case NodeKind::OpticalSwitch:
      out += ", " + std::to_string(n.ports) + " ports, reconfiguration " +
             number(n.reconfigMicros) + " us";
      break;
    default:
      break;
  }
  if (!n.address.empty()) out += " [" + n.address + "]";
  return out;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string toText(const Graph& graph) {
  std::ostringstream out;
  for (int h : graph.nodesOf(NodeKind::Host)) {
    out << describe(graph.nodes[h]) << "\n";
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      if (graph.nodes[i].host == h) out << "  " << describe(graph.nodes[i]) << "\n";
    }
  }
  for (const Node& n : graph.nodes) {
    if (n.host < 0 && n.kind != NodeKind::Host) out << describe(n) << "\n";
  }
  for (const Link& l : graph.links) {
    out << "link " << graph.nodes[l.a].name << " -- " << graph.nodes[l.b].name << "  "
        << kindName(l.kind) << " " << number(l.bandwidth) << " GB/s " << number(l.latency) << " us";
    if (l.oversubscription != 1) out << " oversubscription " << number(l.oversubscription);
    out << "\n";
  }
  return out.str();
}

std::string toDot(const Graph& graph) {
  std::ostringstream out;
  out << "graph topology {\n  node [shape=box, fontsize=10];\n  edge [fontsize=8];\n";
  for (int h : graph.nodesOf(NodeKind::Host)) {
    out << "  subgraph cluster_" << h << " {\n    label=" << quoted(graph.nodes[h].name) << ";\n";
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      const Node& n = graph.nodes[i];
      if (n.host != h) continue;
      out << "    n" << i << " [label=" << quoted(n.name.substr(n.name.find('/') + 1))
          << (n.kind == NodeKind::Rank ? ", shape=ellipse" : "") << "];\n";
    }
    out << "  }\n";
  }
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (n.host >= 0 || n.kind == NodeKind::Host) continue;
    out << "  n" << i << " [label=" << quoted(n.name)
        << (n.kind == NodeKind::AggregationPoint ? ", shape=hexagon" : "") << "];\n";
  }
  for (const Link& l : graph.links) {
    out << "  n" << l.a << " -- n" << l.b << " [label=" << quoted(number(l.bandwidth, "%.4g"))
        << "];\n";
  }
  // Ranks are not linked; show where each sits.
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (n.kind != NodeKind::Rank) continue;
    const int at = n.gpu >= 0 ? n.gpu : n.numa;
    if (at >= 0) out << "  n" << i << " -- n" << at << " [style=dotted];\n";
  }
  out << "}\n";
  return out.str();
}

}  // namespace prism::topo
