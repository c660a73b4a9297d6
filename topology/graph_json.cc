// The explicit form of a fabric file: every node and link spelled out. toJson writes it and
// the loader reads it back, so a dump is also a valid PRISM_TOPO_FILE.
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "topology/fabric_file.h"
#include "topology/fabric_parts.h"

namespace prism::topo {

namespace {

using nlohmann::json;

void putRef(json& out, const Graph& g, const char* key, int id) {
  if (id >= 0) out[key] = g.nodes[id].name;
}

json nodeJson(const Graph& g, const Node& n) {
  const Node d;
  json out = {{"kind", kindName(n.kind)}, {"name", n.name}};
  putRef(out, g, "host", n.host);
  if (n.index != d.index) out["index"] = n.index;
  putRef(out, g, "numa", n.numa);
  putRef(out, g, "gpu", n.gpu);
  putRef(out, g, "nic", n.nic);
  if (n.cores != d.cores) out["cores"] = n.cores;
  if (n.cacheBytes != d.cacheBytes) out["cache_bytes"] = n.cacheBytes;
  if (n.memoryBytes != d.memoryBytes) out["memory_bytes"] = n.memoryBytes;
  if (n.tier != d.tier) out["tier"] = n.tier;
  if (n.oversubscription != d.oversubscription) out["oversubscription"] = n.oversubscription;
  if (n.ports != d.ports) out["ports"] = n.ports;
  if (n.reconfigMicros != d.reconfigMicros) out["reconfig_us"] = n.reconfigMicros;
  if (n.rail != d.rail) out["rail"] = n.rail;
  if (n.bandwidth != d.bandwidth) out["bw"] = n.bandwidth;
  if (n.nvlinkDomain != d.nvlinkDomain) out["nvlink_domain"] = n.nvlinkDomain;
  if (!n.address.empty()) out["address"] = n.address;
  putRef(out, g, "attached_to", n.attachedTo);
  return out;
}

int64_t bigInteger(const JsonView& v, std::string_view key) {
  if (!v.has(key)) return 0;
  const auto& raw = v.raw()[std::string(key)];
  if (!raw.is_number_integer() || raw.get<int64_t>() < 0) {
    v.failAt(key, "expected a non-negative integer");
  }
  return raw.get<int64_t>();
}

int optionalRef(const Graph& g, const JsonView& v, std::string_view key) {
  return v.has(key) ? resolveNode(g, v, key) : -1;
}

}  // namespace

std::string toJson(const Graph& graph) {
  json nodes = json::array();
  for (const Node& n : graph.nodes) nodes.push_back(nodeJson(graph, n));
  json links = json::array();
  for (const Link& l : graph.links) {
    json j = {{"a", graph.nodes[l.a].name},
              {"b", graph.nodes[l.b].name},
              {"kind", kindName(l.kind)},
              {"bw", l.bandwidth},
              {"lat", l.latency}};
    if (l.oversubscription != 1) j["oversubscription"] = l.oversubscription;
    links.push_back(std::move(j));
  }
  json out = {{"prism_topology", 1}, {"nodes", std::move(nodes)}, {"links", std::move(links)}};
  return out.dump(1) + "\n";
}

int resolveNode(const Graph& graph, const JsonView& where, std::string_view key) {
  const std::string name = where.string(key, "");
  const int id = graph.find(name);
  if (id < 0) where.failAt(key, "unknown node '" + name + "'");
  return id;
}

void addExplicitNodes(Graph& graph, const JsonView& nodes) {
  // Two passes: names first, so a node may refer to one listed after it.
  const size_t first = graph.nodes.size();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const JsonView v = nodes.at(i);
    v.allowKeys({"kind", "name", "host", "index", "numa", "gpu", "nic", "cores", "cache_bytes",
                 "memory_bytes", "tier", "oversubscription", "ports", "reconfig_us", "rail", "bw",
                 "nvlink_domain", "address", "attached_to"});
    Node n;
    const std::string kind = v.string("kind", "");
    if (!parseKind(kind, n.kind)) v.failAt("kind", "unknown node kind '" + kind + "'");
    n.name = v.string("name", "");
    if (n.name.empty()) v.failAt("name", "missing or empty");
    if (graph.find(n.name) >= 0) v.failAt("name", "duplicate node name '" + n.name + "'");
    n.index = v.integer("index", 0, -1);
    n.cores = v.integer("cores", 0);
    n.cacheBytes = bigInteger(v, "cache_bytes");
    n.memoryBytes = bigInteger(v, "memory_bytes");
    n.tier = v.integer("tier", 0);
    n.oversubscription = v.number("oversubscription", 1, 1);
    n.ports = v.integer("ports", 0);
    n.reconfigMicros = v.number("reconfig_us", 0);
    n.rail = v.integer("rail", -1, -1);
    n.bandwidth = v.number("bw", 0);
    n.nvlinkDomain = v.integer("nvlink_domain", -1, -1);
    n.address = v.string("address", "");
    graph.addNode(std::move(n));
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const JsonView v = nodes.at(i);
    Node& n = graph.nodes[first + i];
    n.host = optionalRef(graph, v, "host");
    n.numa = optionalRef(graph, v, "numa");
    n.gpu = optionalRef(graph, v, "gpu");
    n.nic = optionalRef(graph, v, "nic");
    n.attachedTo = optionalRef(graph, v, "attached_to");
    if (n.host >= 0 && graph.nodes[n.host].kind != NodeKind::Host) {
      v.failAt("host", "'" + graph.nodes[n.host].name + "' is not a host");
    }
  }
}

void addExplicitLinks(Graph& graph, const JsonView& links) {
  for (size_t i = 0; i < links.size(); ++i) {
    const JsonView v = links.at(i);
    v.allowKeys({"a", "b", "kind", "bw", "lat", "oversubscription"});
    const int a = resolveNode(graph, v, "a");
    const int b = resolveNode(graph, v, "b");
    if (a == b) v.fail("a link must join two different nodes");
    LinkKind kind = LinkKind::Network;
    const std::string k = v.string("kind", "network");
    if (!parseKind(k, kind)) v.failAt("kind", "unknown link kind '" + k + "'");
    if (!v.has("bw")) v.failAt("bw", "every link needs a bandwidth (GB/s)");
    const double bw = v.number("bw", 0, 0);
    if (!(bw > 0)) v.failAt("bw", "bandwidth must be > 0");
    graph.addLink(a, b, kind, bw, v.number("lat", kNetworkLatency),
                  v.number("oversubscription", 1, 1));
  }
}

}  // namespace prism::topo
