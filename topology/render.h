// Human-readable views of a topology graph, for prism-topo and logs.
#pragma once

#include <string>

#include "topology/graph.h"

namespace prism::topo {

/// One line per host with its devices, one per fabric node, then one per link:
///   host0: 2 sockets, 2 NUMA (112 cores), 8 GPUs, 8 NICs
///   link host0/gpu0 -- nvswitch0  nvlink 450 GB/s 0.7 us
std::string toText(const Graph& graph);

/// Graphviz DOT: each host a cluster, devices and switches boxes, links labeled with their
/// bandwidth (GB/s). Rank nodes are drawn as ellipses inside their host.
std::string toDot(const Graph& graph);

}  // namespace prism::topo
