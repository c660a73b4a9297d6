// prism-topo: shows the topology Prism sees. Without --file it discovers this machine;
// with --file it loads a Prism JSON or NCCL XML fabric file. Output: text (default),
// --json, --dot, or an image rendered by Graphviz (--png FILE, --svg FILE).
#include <sys/wait.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "base/error.h"
#include "topology/discover.h"
#include "topology/fabric_file.h"
#include "topology/render.h"

namespace {

/// Pipes `dot` text through Graphviz into `path`; returns false when dot fails.
bool renderImage(const std::string& dot, const std::string& format, const std::string& path) {
  const std::string command = "dot -T" + format + " -o '" + path + "'";
  if (path.find('\'') != std::string::npos) return false;
  FILE* pipe = popen(command.c_str(), "w");
  if (pipe == nullptr) return false;
  const bool written = std::fwrite(dot.data(), 1, dot.size(), pipe) == dot.size();
  const int status = pclose(pipe);
  return written && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Print the topology Prism discovers, or the one a fabric file describes."};
  std::string file, png, svg;
  bool json = false, dot = false;
  app.add_option("-f,--file", file, "Prism JSON or NCCL XML fabric file instead of discovery");
  app.add_flag("--json", json, "print Prism JSON (loadable as PRISM_TOPO_FILE)");
  app.add_flag("--dot", dot, "print Graphviz DOT");
  app.add_option("--png", png, "render a PNG with Graphviz dot");
  app.add_option("--svg", svg, "render an SVG with Graphviz dot");
  CLI11_PARSE(app, argc, argv);

  try {
    const prism::topo::Graph graph =
        file.empty() ? prism::topo::discoverLocal() : prism::topo::loadFabricFile(file);
    if (!png.empty() || !svg.empty()) {
      const std::string text = prism::topo::toDot(graph);
      for (const auto& [format, path] : {std::pair{"png", png}, std::pair{"svg", svg}}) {
        if (path.empty()) continue;
        if (!renderImage(text, format, path)) {
          std::fprintf(stderr, "prism-topo: Graphviz dot failed to write %s\n", path.c_str());
          return 1;
        }
      }
    }
    if (json) {
      std::fputs(prism::topo::toJson(graph).c_str(), stdout);
    } else if (dot) {
      std::fputs(prism::topo::toDot(graph).c_str(), stdout);
    } else if (png.empty() && svg.empty()) {
      std::fputs(prism::topo::toText(graph).c_str(), stdout);
    }
  } catch (const prism::Error& e) {
    std::fprintf(stderr, "prism-topo: %s\n", e.what());
    return 1;
  }
  return 0;
}
