// Fabric files: a topology declared instead of (or on top of) discovery, so tests and
// simulations can describe machines and networks this host does not have. Two formats:
// Prism JSON (docs/topology-format.md) and NCCL's NCCL_TOPO_FILE XML (one host).
#pragma once

#include <optional>
#include <string>

#include "topology/graph.h"

namespace prism::topo {

/// Reads `path`; the extension (.json/.xml), else the first non-space character ('{' or
/// '<'), picks the format. Malformed, contradictory or dangling input throws
/// prism::Error(ncclInvalidArgument) naming the file and the line or element path.
Graph loadFabricFile(const std::string& path);

/// Parses Prism JSON text. `source` names the text in errors (usually the file name).
Graph parseFabricJson(const std::string& text, const std::string& source);

/// Imports NCCL topology XML (system/cpu/pci/gpu/nvlink/nic/net) as one host.
Graph parseNcclXml(const std::string& text, const std::string& source);

/// The graph as Prism JSON in explicit form ("nodes" and "links"); parseFabricJson of the
/// result gives back an equal graph.
std::string toJson(const Graph& graph);

/// Host node `host` of the graph, as NCCL's topology XML (NCCL_TOPO_DUMP_FILE's format);
/// parseNcclXml reads it back with the same devices, bus ids, NIC speeds and NVLinks.
std::string toNcclXml(const Graph& graph, int host);

/// The graph named by PRISM_TOPO_FILE / NCCL_TOPO_FILE, or nullopt when neither is set.
std::optional<Graph> loadConfiguredFabric();

/// Writes the graph to PRISM_TOPO_DUMP_FILE / NCCL_TOPO_DUMP_FILE when set: as NCCL does
/// (NCCL's XML, of the host of rank 0) when the name came from NCCL_TOPO_DUMP_FILE or ends
/// in .xml, else all of it as Prism JSON. A write failure throws
/// prism::Error(ncclSystemError).
void dumpIfRequested(const Graph& graph);

}  // namespace prism::topo
