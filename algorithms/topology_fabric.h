// What the cost model makes of a system topology: the topology as a FabricModel. The one
// place where algorithms/ reads topology/.
#pragma once

#include "algorithms/cost_profile.h"
#include "algorithms/fabric.h"
#include "topology/system.h"

namespace prism {

/// The cost model's view of `topology`: every rank has a shared-memory out and in port
/// (same-host messages use only those); a message between hosts also crosses the network
/// and optical links of its route, each direction of a link counted separately (links are
/// full duplex), so ranks whose routes share a link share its bandwidth.
FabricModel fabricFromTopology(const topo::SystemTopology& topology, const CostProfile& profile);

}  // namespace prism
