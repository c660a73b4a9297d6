// Internal to the fabric loader: the sections of a Prism JSON fabric file, each added to the
// graph by its own function. Order matters: hosts, then generated fabric, then explicit
// nodes, switches, optical switches, aggregation points, and links last (they name nodes).
#pragma once

#include "topology/graph.h"
#include "topology/json_view.h"

namespace prism::topo {

/// Default per-link latencies (µs) and bandwidths (GB/s) where a file gives none.
inline constexpr double kMemoryLatency = 0.1;
inline constexpr double kInterSocketLatency = 0.3;
inline constexpr double kPcieLatency = 0.5;
inline constexpr double kNvLinkLatency = 0.5;
inline constexpr double kNetworkLatency = 1.0;
inline constexpr double kMemoryBandwidth = 100;
inline constexpr double kInterSocketBandwidth = 40;
inline constexpr double kPcieBandwidth = 32;   // gen5 x16 is ~64, gen4 ~32
inline constexpr double kNicBandwidth = 12.5;  // 100 Gbit/s

/// NCCL's topology XML: the PCI class of an NVSwitch, and the GB/s of one NVLink of a GPU
/// of compute capability `sm` (import and export agree on both).
inline constexpr const char* kNcclNvSwitchClass = "0x068000";
inline constexpr double nvlinkPerLinkBandwidth(int sm) {
  return sm >= 100 ? 40 : sm >= 90 ? 20.6 : sm >= 70 ? 20 : 18;
}

/// "hosts": a list of host objects, or {"count": N, "host": {...}}.
void addHosts(Graph& graph, const JsonView& hosts);
/// "fabric": a generator ("fat_tree", "rail_optimized", "torus") over the hosts.
void addGeneratedFabric(Graph& graph, const JsonView& fabric);
/// "nodes": explicit nodes as toJson writes them.
void addExplicitNodes(Graph& graph, const JsonView& nodes);
/// "switches": [{"name", "tier", "oversubscription"}].
void addSwitches(Graph& graph, const JsonView& switches);
/// "optical_switches": ports, attached endpoints, circuits, reconfiguration delay.
void addOpticalSwitches(Graph& graph, const JsonView& list);
/// "aggregation": [{"name", "switch", "address"}].
void addAggregationPoints(Graph& graph, const JsonView& list);
/// "links": [{"a", "b", "kind", "bw", "lat", "oversubscription"}], ends named.
void addExplicitLinks(Graph& graph, const JsonView& links);

/// Id of the node `name` refers to; fails at `where.key` when there is none.
int resolveNode(const Graph& graph, const JsonView& where, std::string_view key);

}  // namespace prism::topo
