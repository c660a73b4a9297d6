// Fabric files: a topology declared instead of (or on top of) discovery, so tests and
// simulations can describe machines and networks this host does not have. Two formats:
// Prism JSON (docs/topology-format.md) and NCCL's NCCL_TOPO_FILE XML (import only).
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

/// The graph named by PRISM_TOPO_FILE / NCCL_TOPO_FILE, or nullopt when neither is set.
std::optional<Graph> loadConfiguredFabric();

/// Writes toJson(graph) to PRISM_TOPO_DUMP_FILE / NCCL_TOPO_DUMP_FILE when set; a write
/// failure throws prism::Error(ncclSystemError).
void dumpIfRequested(const Graph& graph);

}  // namespace prism::topo
