// Where a communicator's ranks are: every rank's placement gathered into one system
// topology over the setup channel.
#pragma once

#include <memory>

#include "topology/system.h"

namespace prism {
class SetupChannel;
}

namespace prism::topo {

/// Collective over `setup`: each rank describes itself (host identity, NUMA node, GPU,
/// NIC), the descriptions are all-gathered, and every rank builds the same topology over
/// PRISM_TOPO_FILE's fabric when one is set. Rank 0 writes PRISM_TOPO_DUMP_FILE. Local
/// discovery runs once per process.
std::unique_ptr<SystemTopology> gatherSystemTopology(SetupChannel& setup, int cudaDevice);

}  // namespace prism::topo
