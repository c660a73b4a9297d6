// Internal: a small XML reader for NCCL topology files. Elements and attributes only; text,
// comments, processing instructions and DOCTYPE are skipped. Errors name the line.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prism::topo {

struct XmlElement {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<XmlElement> children;
  int line = 0;  ///< line of the opening tag

  /// The attribute's value, or `fallback` when absent.
  std::string attr(std::string_view key, const std::string& fallback = "") const;
  bool has(std::string_view key) const;
};

/// Parses `text` and returns its root element. Throws prism::Error(ncclInvalidArgument,
/// "<source>:<line>: <reason>") on malformed input.
XmlElement parseXml(const std::string& text, const std::string& source);

}  // namespace prism::topo
