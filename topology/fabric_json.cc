// Prism JSON fabric files: the top level, switches, optical circuit switches and
// aggregation points. Hosts and generators live in fabric_hosts.cc / fabric_generators.cc.
#include <set>

#include "base/error.h"
#include "topology/fabric_file.h"
#include "topology/fabric_parts.h"

namespace prism::topo {

namespace {

int lineOf(const std::string& text, size_t byte) {
  const size_t end = std::min(byte, text.size());
  int line = 1;
  for (size_t i = 0; i < end; ++i) line += text[i] == '\n';
  return line;
}

void addOpticalSwitch(Graph& g, const JsonView& v) {
  v.allowKeys({"name", "ports", "reconfig_us", "bw", "lat", "attached", "circuits"});
  Node n = makeNode(NodeKind::OpticalSwitch, v.string("name", ""));
  if (n.name.empty()) v.failAt("name", "missing");
  if (g.find(n.name) >= 0) v.failAt("name", "duplicate node name '" + n.name + "'");
  n.ports = v.integer("ports", 0, 1);
  if (!v.has("ports")) v.failAt("ports", "missing port count");
  n.reconfigMicros = v.number("reconfig_us", 0);
  if (!v.has("bw")) v.failAt("bw", "an optical switch needs a port bandwidth (GB/s)");
  const double bw = v.number("bw", 0);
  if (!(bw > 0)) v.failAt("bw", "bandwidth must be > 0");
  const double lat = v.number("lat", kNetworkLatency);
  const int ports = n.ports;
  const std::string name = n.name;
  const int ocs = g.addNode(std::move(n));

  std::set<int> attached;
  if (v.has("attached")) {
    const JsonView list = v.at("attached");
    if (static_cast<int>(list.size()) > ports) {
      list.fail(std::to_string(list.size()) + " endpoints attached but the switch has " +
                std::to_string(ports) + " ports");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const JsonView e = list.at(i);
      if (!e.raw().is_string()) e.fail("expected a node name");
      const int id = g.find(e.raw().get<std::string>());
      if (id < 0) e.fail("unknown node '" + e.raw().get<std::string>() + "'");
      if (!attached.insert(id).second) e.fail("'" + g.nodes[id].name + "' attached twice");
      g.addLink(id, ocs, LinkKind::Optical, bw, lat);
    }
  }
  if (!v.has("circuits")) return;
  const JsonView circuits = v.at("circuits");
  std::set<int> inCircuit;
  for (size_t c = 0; c < circuits.size(); ++c) {
    const JsonView pair = circuits.at(c);
    if (pair.size() != 2) pair.fail("a circuit joins exactly two attached endpoints");
    int ends[2];
    for (size_t k = 0; k < 2; ++k) {
      const JsonView e = pair.at(k);
      if (!e.raw().is_string()) e.fail("expected a node name");
      const int id = g.find(e.raw().get<std::string>());
      if (id < 0) e.fail("unknown node '" + e.raw().get<std::string>() + "'");
      if (!attached.count(id)) {
        e.fail("'" + g.nodes[id].name + "' is not attached to " + name);
      }
      if (!inCircuit.insert(id).second) {
        e.fail("'" + g.nodes[id].name + "' is already in another circuit (one per port)");
      }
      ends[k] = id;
    }
    g.addLink(ends[0], ends[1], LinkKind::Optical, bw, lat);
  }
}

bool validAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= address.size()) return false;
  int port = 0;
  for (size_t i = colon + 1; i < address.size(); ++i) {
    if (address[i] < '0' || address[i] > '9' || port > 65535) return false;
    port = port * 10 + (address[i] - '0');
  }
  return port >= 1 && port <= 65535;
}

}  // namespace

void addSwitches(Graph& graph, const JsonView& switches) {
  for (size_t i = 0; i < switches.size(); ++i) {
    const JsonView v = switches.at(i);
    v.allowKeys({"name", "tier", "oversubscription"});
    Node n = makeNode(NodeKind::Switch, v.string("name", ""));
    if (n.name.empty()) v.failAt("name", "missing");
    if (graph.find(n.name) >= 0) v.failAt("name", "duplicate node name '" + n.name + "'");
    n.index = static_cast<int>(i);
    n.tier = v.integer("tier", 1, 1);
    n.oversubscription = v.number("oversubscription", 1, 1);
    graph.addNode(std::move(n));
  }
}

void addOpticalSwitches(Graph& graph, const JsonView& list) {
  for (size_t i = 0; i < list.size(); ++i) addOpticalSwitch(graph, list.at(i));
}

void addAggregationPoints(Graph& graph, const JsonView& list) {
  for (size_t i = 0; i < list.size(); ++i) {
    const JsonView v = list.at(i);
    v.allowKeys({"name", "switch", "address", "bw", "lat"});
    Node n = makeNode(NodeKind::AggregationPoint, v.string("name", "agg" + std::to_string(i)));
    if (graph.find(n.name) >= 0) v.failAt("name", "duplicate node name '" + n.name + "'");
    n.index = static_cast<int>(i);
    n.attachedTo = resolveNode(graph, v, "switch");
    if (graph.nodes[n.attachedTo].kind != NodeKind::Switch) {
      v.failAt("switch", "'" + graph.nodes[n.attachedTo].name + "' is not a network switch");
    }
    n.address = v.string("address", "");
    if (!validAddress(n.address)) {
      v.failAt("address", "expected host:port, got '" + n.address + "'");
    }
    const int sw = n.attachedTo;
    const int id = graph.addNode(std::move(n));
    graph.addLink(id, sw, LinkKind::Network, v.number("bw", kNicBandwidth),
                  v.number("lat", kNetworkLatency));
  }
}

Graph parseFabricJson(const std::string& text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    const size_t cut = what.find("syntax error");
    if (cut != std::string::npos) what = what.substr(cut);
    throw Error(ncclInvalidArgument,
                source + ":" + std::to_string(lineOf(text, e.byte ? e.byte - 1 : 0)) + ": " + what);
  } catch (const nlohmann::json::exception& e) {
    // Well-formed text the parser still refuses, such as a number beyond a double's range.
    throw Error(ncclInvalidArgument, source + ": " + e.what());
  }
  const JsonView top(doc, source, "");
  top.allowKeys({"prism_topology", "description", "hosts", "fabric", "nodes", "switches",
                 "optical_switches", "aggregation", "links"});
  if (top.integer("prism_topology", 1, 1) != 1) {
    top.failAt("prism_topology", "unsupported format version");
  }
  Graph graph;
  if (top.has("hosts")) addHosts(graph, top.at("hosts"));
  if (top.has("fabric")) addGeneratedFabric(graph, top.at("fabric"));
  if (top.has("nodes")) addExplicitNodes(graph, top.at("nodes"));
  if (top.has("switches")) addSwitches(graph, top.at("switches"));
  if (top.has("optical_switches")) addOpticalSwitches(graph, top.at("optical_switches"));
  if (top.has("aggregation")) addAggregationPoints(graph, top.at("aggregation"));
  if (top.has("links")) addExplicitLinks(graph, top.at("links"));
  return graph;
}

}  // namespace prism::topo
