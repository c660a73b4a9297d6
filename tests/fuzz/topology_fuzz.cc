// libFuzzer: fabric files (PRISM_TOPO_FILE / NCCL_TOPO_FILE), which users write by hand.
// The first byte picks the format: even for Prism's JSON, odd for NCCL's XML. A file is
// either a graph or a prism::Error naming what is wrong; no other exception escapes.
#include <cstdint>
#include <string>

#include "base/error.h"
#include "topology/fabric_file.h"

using namespace prism;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      topo::parseFabricJson(text, "fuzz.json");
    } else {
      topo::parseNcclXml(text, "fuzz.xml");
    }
  } catch (const Error&) {
  }
  return 0;
}
