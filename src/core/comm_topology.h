// Where a communicator's ranks are, and what the cost model makes of it: every rank's
// placement gathered into one system topology, and that topology as a FabricModel.
#pragma once

#include <memory>

#include "algorithms/fabric.h"
#include "topology/system.h"

namespace prism {

class SetupChannel;

/// Collective over `setup`: each rank describes itself (host identity, NUMA node, GPU,
/// NIC), the descriptions are all-gathered, and every rank builds the same topology over
/// PRISM_TOPO_FILE's fabric when one is set. Rank 0 writes PRISM_TOPO_DUMP_FILE. Local
/// discovery runs once per process.
std::unique_ptr<topo::SystemTopology> gatherSystemTopology(SetupChannel& setup, int cudaDevice);

/// The cost model's view of `topology`: every rank has a shared-memory out and in port
/// (same-host messages use only those); a message between hosts also crosses the network
/// and optical links of its route, each direction of a link counted separately (links are
/// full duplex), so ranks whose routes share a link share its bandwidth.
FabricModel fabricFromTopology(const topo::SystemTopology& topology, const CostProfile& profile);

}  // namespace prism
