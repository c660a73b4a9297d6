#include "algorithms/algo_override.h"

#include <array>
#include <cctype>
#include <utility>

#include "algorithms/registry.h"
#include "base/text.h"

namespace prism {
namespace {

/// Calls `f(prefix, list)` for each ';' entry; `prefix` is empty where the entry has none.
template <typename F>
void forEachEntry(std::string_view value, F&& f) {
  while (!value.empty()) {
    const size_t semicolon = value.find(';');
    const std::string_view entry = trimSpaces(value.substr(0, semicolon));
    value = semicolon == std::string_view::npos ? std::string_view() : value.substr(semicolon + 1);
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    if (colon == std::string_view::npos) {
      f(std::string_view(), entry);
    } else {
      f(trimSpaces(entry.substr(0, colon)), trimSpaces(entry.substr(colon + 1)));
    }
  }
}

/// The collective an entry's prefix names, by NCCL's name or Prism's.
bool prefixNames(std::string_view prefix, Collective c) {
  if (equalsIgnoreCase(prefix, collectiveName(c))) return true;
  return c == Collective::AllToAll && equalsIgnoreCase(prefix, "alltoall");
}

bool knownPrefix(std::string_view prefix) {
  for (int c = 0; c <= static_cast<int>(Collective::SendRecv); ++c) {
    if (prefixNames(prefix, static_cast<Collective>(c))) return true;
  }
  return false;
}

// NCCL algorithm names and what they are in Prism ("" for none on host memory).
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kNcclAlgorithms = {{
    {"tree", "double_binary_tree"},
    {"ring", "ring"},
    {"pat", "pat"},
    {"collnetdirect", "innet"},
    {"collnetchain", "innet"},
    {"nvls", ""},
    {"nvlstree", ""},
}};

std::string translateList(std::string_view list) {
  std::string out;
  if (!list.empty() && list.front() == '^') out += '^';
  bool first = true;
  for (std::string_view name : overrideNames(list)) {
    std::string_view mapped = name;
    for (const auto& [nccl, prism] : kNcclAlgorithms) {
      if (equalsIgnoreCase(name, nccl)) mapped = prism;
    }
    if (mapped.empty()) continue;
    if (!first) out += ',';
    out += mapped;
    first = false;
  }
  return out;
}

}  // namespace

std::string_view overrideFor(std::string_view value, Collective c) {
  std::string_view general;
  std::string_view own;
  bool hasOwn = false;
  bool first = true;
  forEachEntry(value, [&](std::string_view prefix, std::string_view list) {
    if (prefix.empty()) {
      if (first) general = list;
    } else if (prefixNames(prefix, c)) {
      own = list;
      hasOwn = true;
    }
    first = false;
  });
  return hasOwn ? own : general;
}

std::string ncclAlgorithmNames(std::string_view value) {
  std::string out;
  forEachEntry(value, [&](std::string_view prefix, std::string_view list) {
    if (!out.empty()) out += ';';
    if (!prefix.empty()) {
      out += prefix;
      out += ':';
    }
    out += translateList(list);
  });
  return out;
}

std::vector<std::string> overrideProblems(std::string_view value,
                                          bool (*known)(std::string_view name)) {
  std::vector<std::string> problems;
  bool first = true;
  forEachEntry(value, [&](std::string_view prefix, std::string_view list) {
    if (prefix.empty() && !first) {
      problems.push_back("entry '" + std::string(list) +
                         "' needs a collective: only the first entry may omit one");
    }
    if (!prefix.empty() && !knownPrefix(prefix)) {
      problems.push_back("unknown collective '" + std::string(prefix) + "'");
    }
    for (std::string_view name : overrideNames(list)) {
      if (!known(name)) problems.push_back("unknown name '" + std::string(name) + "'");
    }
    first = false;
  });
  return problems;
}

bool isNcclProtocol(std::string_view name) {
  return equalsIgnoreCase(name, "ll") || equalsIgnoreCase(name, "ll128") ||
         equalsIgnoreCase(name, "simple");
}

bool isAlgorithmName(std::string_view name) {
  if (findAlgorithm(name) != nullptr || equalsIgnoreCase(name, "innet")) return true;
  for (const auto& [nccl, prism] : kNcclAlgorithms) {
    if (equalsIgnoreCase(name, nccl)) return true;
  }
  return false;
}

std::vector<std::string_view> overrideNames(std::string_view list) {
  std::vector<std::string_view> names;
  if (!list.empty() && list.front() == '^') list.remove_prefix(1);
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view name = trimSpaces(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

bool overrideAllows(std::string_view list, std::string_view name) {
  list = trimSpaces(list);
  if (list.empty()) return true;
  bool named = false;
  for (std::string_view n : overrideNames(list)) named |= equalsIgnoreCase(n, name);
  return named != (list.front() == '^');
}

}  // namespace prism
