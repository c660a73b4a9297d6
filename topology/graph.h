// The topology graph: every host, device, switch and link Prism knows about, as plain data.
// Discovery (discover.h), fabric files (fabric_file.h) and the system view (system.h) all
// produce or consume this one type; it serializes to JSON with toJson (fabric_file.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prism::topo {

enum class NodeKind {
  Host,              ///< one machine; a container for its devices, never linked itself
  Package,           ///< a CPU socket
  Numa,              ///< a NUMA node (memory and the cores near it)
  Gpu,               ///< an accelerator
  Nic,               ///< a network adapter port
  PciSwitch,         ///< a PCIe switch or bridge below a root port
  NvSwitch,          ///< an NVLink switch; one per NVLink domain
  Switch,            ///< a network switch; `tier` 1 is a leaf, 2 a spine, ...
  OpticalSwitch,     ///< an optical circuit switch (`ports`, `reconfigMicros`)
  AggregationPoint,  ///< an in-network reduction service at `address` (host:port)
  Rank,              ///< a communicator rank; `index` is the rank, placement in the fields
};

enum class LinkKind {
  Memory,       ///< NUMA node to its package (intra-socket)
  InterSocket,  ///< package to package
  Pcie,
  NvLink,
  Network,  ///< NIC to switch, switch to switch, or NIC to NIC (torus)
  Optical,  ///< an optical circuit (ends on an OpticalSwitch or across one)
};

/// One vertex. Fields that do not apply to a kind keep their defaults.
struct Node {
  NodeKind kind = NodeKind::Host;
  std::string name;             ///< unique in the graph: "host0/gpu3", "rail2", "spine0"
  int host = -1;                ///< id of the owning Host node; -1 for hosts and fabric nodes
  int index = 0;                ///< local index: GPU/NIC/NUMA number on its host, host number, rank
  int numa = -1;                ///< Gpu, Nic, Rank: id of the nearest Numa node
  int gpu = -1;                 ///< Rank: id of its Gpu node
  int nic = -1;                 ///< Rank: id of its Nic node
  int cores = 0;                ///< Package, Numa: cores
  int64_t cacheBytes = 0;       ///< Package: last-level cache per package
  int64_t memoryBytes = 0;      ///< Numa: local memory
  int tier = 0;                 ///< Switch: 1 leaf, 2 spine, 3 core
  double oversubscription = 1;  ///< Switch: downlink over uplink bandwidth
  int ports = 0;                ///< OpticalSwitch: port count
  double reconfigMicros = 0;    ///< OpticalSwitch: circuit reconfiguration delay
  int rail = -1;                ///< Nic: rail (the index of the rail switch it plugs into)
  double bandwidth = 0;         ///< Nic: port speed in GB/s
  int nvlinkDomain = -1;        ///< Gpu: NVLink domain (GPUs of one domain share NVLink)
  std::string address;  ///< AggregationPoint: host:port; Host: identity; PCI devices: bus id
  int attachedTo = -1;  ///< AggregationPoint: id of the switch that serves it

  bool operator==(const Node&) const = default;
};

/// One undirected edge. Bandwidth is per direction.
struct Link {
  int a = -1;
  int b = -1;
  LinkKind kind = LinkKind::Pcie;
  double bandwidth = 0;         ///< GB/s
  double latency = 0;           ///< µs
  double oversubscription = 1;  ///< switch uplinks: the switch's downlink:uplink ratio

  bool operator==(const Link&) const = default;
};

/// A node of `kind` called `name`, owned by host node `host` (-1: none).
Node makeNode(NodeKind kind, std::string name, int host = -1);

/// The graph. Node and link ids are indices into the vectors.
struct Graph {
  std::vector<Node> nodes;
  std::vector<Link> links;

  /// Appends `node`; throws prism::Error if its name is empty or already used.
  int addNode(Node node);
  /// Appends a link between existing nodes; throws prism::Error on a bad id or a
  /// non-positive bandwidth.
  int addLink(int a, int b, LinkKind kind, double bandwidth, double latency,
              double oversubscription = 1);
  /// Id of the node called `name`, or -1.
  int find(std::string_view name) const;
  /// Ids of all nodes of `kind`, in id order.
  std::vector<int> nodesOf(NodeKind kind) const;
  /// Ids of the nodes of `kind` owned by host node `host`, in id order.
  std::vector<int> devicesOf(int host, NodeKind kind) const;
  /// For each node, the ids of the links touching it.
  std::vector<std::vector<int>> incidence() const;

  bool operator==(const Graph&) const = default;
};

std::string_view kindName(NodeKind kind);
std::string_view kindName(LinkKind kind);
/// Inverse of kindName; false if `name` is none of them.
bool parseKind(std::string_view name, NodeKind& out);
bool parseKind(std::string_view name, LinkKind& out);

}  // namespace prism::topo
