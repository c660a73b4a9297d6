// Routing through a topology graph: the lowest-latency path between two nodes.
#pragma once

#include <optional>
#include <vector>

#include "topology/graph.h"

namespace prism::topo {

struct Route {
  std::vector<int> links;  ///< link ids from source to destination
  double latency = 0;      ///< µs, the sum over the links
  double bandwidth = 0;    ///< GB/s, the narrowest link (0 for an empty route)
};

/// Shortest path by total latency, ties broken by fewer links (Dijkstra; graphs of a few
/// thousand nodes take well under a millisecond). Hosts, GPUs, ranks, optical switches and
/// aggregation points only start or end a route, never forward one: traffic does not cross
/// a GPU, and an optical switch carries circuits (direct links), not packets.
/// `incidence` is graph.incidence(). Nullopt when `to` is unreachable.
std::optional<Route> shortestRoute(const Graph& graph,
                                   const std::vector<std::vector<int>>& incidence, int from,
                                   int to);

/// The whole shortest-path tree from `from`: for each node, the link that reaches it on
/// its shortest route (-1 for `from` and unreachable nodes). One tree answers every
/// destination, so callers asking many paths from one source keep it.
std::vector<int> shortestTree(const Graph& graph, const std::vector<std::vector<int>>& incidence,
                              int from);

/// The route to `to` along a tree from shortestTree(graph, incidence, from).
std::optional<Route> routeInTree(const Graph& graph, const std::vector<int>& tree, int from,
                                 int to);

}  // namespace prism::topo
