#include "topology/system_gather.h"

#include <string>
#include <vector>

#include "base/log.h"
#include "base/setup_channel.h"
#include "topology/discover.h"
#include "topology/fabric_file.h"

namespace prism::topo {
namespace {

/// The machine does not change while the process runs: discover it once.
const topo::Graph& localMachine() {
  static const topo::Graph graph = topo::discoverLocal();
  return graph;
}

}  // namespace

std::unique_ptr<SystemTopology> gatherSystemTopology(SetupChannel& setup, int cudaDevice) {
  RankInfo mine = describeLocalRank(localMachine(), cudaDevice);
  mine.host = hostIdentity();
  const auto record = encodeRank(mine);
  std::vector<std::byte> all(record.size() * static_cast<size_t>(setup.size()));
  setup.allGather(record.data(), all.data(), record.size());
  std::vector<RankInfo> ranks;
  for (int r = 0; r < setup.size(); ++r) {
    ranks.push_back(decodeRank(all.data() + record.size() * r, record.size()));
  }
  const std::optional<Graph> fabric = loadConfiguredFabric();
  auto topology = std::make_unique<SystemTopology>(ranks, fabric ? &*fabric : nullptr);
  if (setup.rank() == 0) dumpIfRequested(topology->graph());
  log::info(log::kGraph, "topology: %d ranks on %d hosts%s", topology->nranks(), topology->nhosts(),
            fabric ? " (fabric from PRISM_TOPO_FILE)" : "");
  return topology;
}

}  // namespace prism::topo
