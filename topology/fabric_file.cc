// Reading a fabric file from disk, picking its format, and dumping a graph.
#include "topology/fabric_file.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"

namespace prism::topo {

namespace {

bool endsWith(const std::string& s, const char* suffix) {
  const std::string x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

}  // namespace

Graph loadFabricFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ncclInvalidArgument, path + ": cannot open topology file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  bool xml = endsWith(path, ".xml");
  if (!xml && !endsWith(path, ".json")) {
    for (char c : text) {
      if (std::isspace(static_cast<unsigned char>(c))) continue;
      xml = c == '<';
      break;
    }
  }
  Graph g = xml ? parseNcclXml(text, path) : parseFabricJson(text, path);
  log::info(log::kGraph, "topology file %s: %zu nodes, %zu links", path.c_str(), g.nodes.size(),
            g.links.size());
  return g;
}

std::optional<Graph> loadConfiguredFabric() {
  const std::string path = config::getString(config::Setting::TopoFile);
  if (path.empty()) return std::nullopt;
  return loadFabricFile(path);
}

void dumpIfRequested(const Graph& graph) {
  const std::string path = config::getString(config::Setting::TopoDumpFile);
  if (path.empty()) return;
  const bool xml = config::source(config::Setting::TopoDumpFile) == "NCCL_TOPO_DUMP_FILE" ||
                   (path.size() >= 4 && path.compare(path.size() - 4, 4, ".xml") == 0);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (xml) {
    // NCCL dumps the host it runs on: here, rank 0's (or the first host without ranks).
    int host = -1;
    for (int r : graph.nodesOf(NodeKind::Rank)) {
      if (graph.nodes[r].index == 0) host = graph.nodes[r].host;
    }
    if (host < 0 && !graph.nodesOf(NodeKind::Host).empty()) host = graph.nodesOf(NodeKind::Host)[0];
    out << toNcclXml(graph, host);
  } else {
    out << toJson(graph);
  }
  out.close();
  if (!out) throwSystemError("writing topology dump " + path);
  log::info(log::kGraph, "topology written to %s", path.c_str());
}

}  // namespace prism::topo
