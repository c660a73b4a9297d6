// The system view the selector and cost model consume: where each rank of a communicator
// sits (host, NUMA node, GPU, NIC), the hierarchy groups algorithms compose over, and the
// path between any two ranks with its bottleneck bandwidth, latency and the links it uses.
//
// Each rank describes itself in a fixed-size record (encodeRank), the communicator
// all-gathers the records, and every rank builds the same SystemTopology from them plus the
// optional fabric file graph.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "topology/graph.h"

namespace prism::topo {

/// What one rank knows about its own placement.
struct RankInfo {
  std::string host;         ///< hostIdentity(): equal strings mean the same machine
  int numa = -1;            ///< NUMA node (OS index) the rank runs on; -1 unknown
  int gpu = -1;             ///< local GPU index; -1 for a host-memory rank
  int nic = -1;             ///< local NIC index it sends through; -1 unknown
  double nicBandwidth = 0;  ///< that NIC's speed in GB/s; 0 unknown

  bool operator==(const RankInfo&) const = default;
};

/// Size of an encoded RankInfo: every rank contributes the same number of bytes.
inline constexpr size_t kRankInfoBytes = 256;

/// Fixed-size, byte-order-independent encoding. Throws prism::Error(ncclInvalidArgument)
/// when the host identity is too long to fit.
std::array<std::byte, kRankInfoBytes> encodeRank(const RankInfo& info);
/// Inverse of encodeRank; throws prism::Error(ncclInternalError) on a corrupt record.
RankInfo decodeRank(const std::byte* data, size_t size);

/// This process's RankInfo from a discovered local graph: host identity, current NUMA
/// node, `gpu`, and the NIC nearest to the GPU (else on the same NUMA node, else the first).
RankInfo describeLocalRank(const Graph& local, int gpu = -1);

/// Coarse class of a path, for cost models that price link classes.
enum class LinkClass { SameNuma, SameHost, NvLink, Network };

struct Path {
  double bandwidth = 0;  ///< GB/s of the narrowest link
  double latency = 0;    ///< µs, summed over the links
  LinkClass linkClass = LinkClass::SameNuma;
  std::vector<int> links;  ///< link ids into graph().links, in order; shared ids = contention
};

/// Hierarchy levels for groups().
enum class Level {
  Host,    ///< ranks on one machine
  NvLink,  ///< ranks whose GPUs share an NVLink domain (a rank without NVLink: alone)
  Rail,    ///< ranks whose NICs are on the same rail (without a NIC: same local rank)
};

/// An in-network reduction service from the fabric file.
struct AggregationService {
  std::string address;  ///< host:port
  int node = -1;        ///< its AggregationPoint node
  int switchNode = -1;  ///< the switch it serves from
  int tier = 0;         ///< that switch's tier
};

class SystemTopology {
 public:
  /// `ranks[r]` is rank r's description (a NUMA, GPU or NIC index the host lacks is
  /// ignored). Without a fabric (or one with no hosts) the graph
  /// is synthesized: the hosts the ranks report, their NUMA nodes, GPUs and NICs, one
  /// switch joining the NICs. With a fabric, dense host h (numbered in order of first
  /// appearance among the ranks) is the fabric's h-th Host node; a fabric with fewer hosts
  /// than the ranks use throws prism::Error(ncclInvalidArgument).
  explicit SystemTopology(const std::vector<RankInfo>& ranks, const Graph* fabric = nullptr);

  int nranks() const { return static_cast<int>(hostOf_.size()); }
  int nhosts() const { return static_cast<int>(ranksOnHost_.size()); }
  /// Dense host index of `rank`.
  int hostOf(int rank) const { return hostOf_[rank]; }
  const std::vector<int>& hostOf() const { return hostOf_; }
  /// Ranks on dense host `host`, ascending.
  const std::vector<int>& ranksOnHost(int host) const { return ranksOnHost_[host]; }
  /// Groups of ranks for `level`, each ascending, ordered by their first rank.
  const std::vector<std::vector<int>>& groups(Level level) const;
  /// The route from rank a to rank b. Between hosts it leaves through a's NIC and enters
  /// through b's. Throws prism::Error(ncclInvalidArgument) when the graph has no route.
  /// Shortest-path trees are kept per source node, so all n² paths cost O(n) Dijkstra runs;
  /// safe to call from several threads.
  Path path(int a, int b) const;
  std::vector<AggregationService> aggregationPoints() const;
  /// The graph the paths refer to, including one Rank node per rank.
  const Graph& graph() const { return graph_; }

 private:
  struct Placement {
    int host = -1, numa = -1, gpu = -1, nic = -1;
    int endpoint() const { return gpu >= 0 ? gpu : numa; }
  };
  void place(const std::vector<RankInfo>& ranks);
  void buildGroups();
  const std::vector<int>& treeFrom(int node) const;

  Graph graph_;
  std::vector<std::vector<int>> incidence_;
  std::vector<int> hostOf_;
  std::vector<std::vector<int>> ranksOnHost_;
  std::vector<Placement> placement_;
  std::vector<std::vector<int>> hostGroups_, nvlinkGroups_, railGroups_;
  mutable std::unique_ptr<std::mutex> treesMutex_ = std::make_unique<std::mutex>();
  mutable std::map<int, std::vector<int>> trees_;  ///< shortestTree by source node
};

}  // namespace prism::topo
