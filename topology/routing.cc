#include "topology/routing.h"

#include <algorithm>
#include <limits>
#include <queue>
#include <utility>

namespace prism::topo {

namespace {

bool forwards(NodeKind kind) {
  switch (kind) {
    case NodeKind::Host:
    case NodeKind::Gpu:
    case NodeKind::Rank:
    case NodeKind::OpticalSwitch:
    case NodeKind::AggregationPoint:
      return false;
    default:
      return true;
  }
}

}  // namespace

std::vector<int> shortestTree(const Graph& graph, const std::vector<std::vector<int>>& incidence,
                              int from) {
  using Cost = std::pair<double, int>;  // latency, hops
  const Cost kInf{std::numeric_limits<double>::infinity(), 0};
  std::vector<Cost> best(graph.nodes.size(), kInf);
  std::vector<int> via(graph.nodes.size(), -1);  // link used to reach the node
  using Entry = std::pair<Cost, int>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue;
  best[from] = {0, 0};
  queue.push({best[from], from});
  while (!queue.empty()) {
    const auto [cost, node] = queue.top();
    queue.pop();
    if (cost > best[node]) continue;
    if (node != from && !forwards(graph.nodes[node].kind)) continue;
    for (int l : incidence[node]) {
      const Link& link = graph.links[l];
      const int next = link.a == node ? link.b : link.a;
      const Cost c{cost.first + link.latency, cost.second + 1};
      if (c < best[next]) {
        best[next] = c;
        via[next] = l;
        queue.push({c, next});
      }
    }
  }
  return via;
}

std::optional<Route> routeInTree(const Graph& graph, const std::vector<int>& tree, int from,
                                 int to) {
  if (from == to) return Route{};
  if (tree[to] < 0) return std::nullopt;
  Route route;
  route.bandwidth = std::numeric_limits<double>::infinity();
  for (int node = to; node != from;) {
    const Link& link = graph.links[tree[node]];
    route.links.push_back(tree[node]);
    route.bandwidth = std::min(route.bandwidth, link.bandwidth);
    node = link.a == node ? link.b : link.a;
  }
  std::reverse(route.links.begin(), route.links.end());
  for (int l : route.links) route.latency += graph.links[l].latency;
  return route;
}

std::optional<Route> shortestRoute(const Graph& graph,
                                   const std::vector<std::vector<int>>& incidence, int from,
                                   int to) {
  return routeInTree(graph, shortestTree(graph, incidence, from), from, to);
}

}  // namespace prism::topo
