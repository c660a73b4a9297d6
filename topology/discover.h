// Discovery of the local machine: sockets, NUMA nodes, cores, last-level caches, NICs with
// their link speeds, and (with CUDA) GPUs. Runs at communicator init, so it is kept fast:
// hwloc for the CPU side with every other object type filtered out, sysfs for the devices
// (most of the time is hwloc's own start-up).
#pragma once

#include <string>

#include "topology/graph.h"

namespace prism::topo {

/// Identifies a host: hostname, the kernel boot id (two containers with one hostname are
/// not one host) and the network namespace (ranks in different namespaces of one machine,
/// emulated hosts, count as different hosts; ranks in one namespace share memory).
std::string hostIdentity();

/// The local machine as a graph with one Host node ("host0", address = hostIdentity()).
/// Throws prism::Error(ncclSystemError) only if hwloc itself fails.
Graph discoverLocal();

/// NUMA node (OS index) of the CPU the calling thread last ran on; 0 when unknown.
int currentNumaNode();

/// Link speed of network interface `ifname` in GB/s from /sys/class/net/<if>/speed, else
/// from /sys/class/infiniband/<dev>/ports/1/rate; 0 when unknown (virtual NICs).
double nicSpeed(const std::string& ifname);

}  // namespace prism::topo
