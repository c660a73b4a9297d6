#include "topology/cpu_binding.h"

#include <hwloc.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "base/error.h"

namespace prism::topo {
namespace {

/// hwloc with cores and NUMA nodes only, loaded once per process: binding needs nothing
/// else, and a loaded topology is safe to read and bind with from any thread (hwloc's
/// contract), and from a single-threaded child after fork (prism-run binds there).
hwloc_topology_t topology() {
  static hwloc_topology_t loaded = [] {
    hwloc_topology_t t = nullptr;
    if (hwloc_topology_init(&t) != 0) throwSystemError("hwloc_topology_init");
    hwloc_topology_set_all_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(t, HWLOC_OBJ_CORE, HWLOC_TYPE_FILTER_KEEP_ALL);
    if (hwloc_topology_load(t) != 0) {
      hwloc_topology_destroy(t);
      throwSystemError("hwloc_topology_load");
    }
    return t;
  }();
  return loaded;
}

using Bitmap = std::unique_ptr<hwloc_bitmap_s, decltype(&hwloc_bitmap_free)>;

Bitmap newBitmap() { return Bitmap(hwloc_bitmap_alloc(), hwloc_bitmap_free); }

std::vector<int> toCpus(hwloc_const_bitmap_t set) {
  std::vector<int> cpus;
  int cpu;
  hwloc_bitmap_foreach_begin(cpu, set) cpus.push_back(cpu);
  hwloc_bitmap_foreach_end();
  return cpus;
}

Bitmap toBitmap(const std::vector<int>& cpus) {
  Bitmap set = newBitmap();
  for (int cpu : cpus) hwloc_bitmap_set(set.get(), static_cast<unsigned>(cpu));
  return set;
}

int cpubindFlags(BindScope scope) {
  return scope == BindScope::Process ? HWLOC_CPUBIND_PROCESS : HWLOC_CPUBIND_THREAD;
}

void sortUnique(std::vector<int>& cpus) {
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
}

/// Core indices of `layout` in mapping order, as lists per "bin": one bin of every core for
/// MapBy::Core, one bin per NUMA node (in order of first appearance) for MapBy::Numa.
std::vector<std::vector<int>> mappingBins(const CpuLayout& layout, MapBy mapBy) {
  std::vector<std::vector<int>> bins;
  std::map<int, size_t> binOfNuma;
  for (size_t c = 0; c < layout.cores.size(); ++c) {
    const int key = mapBy == MapBy::Numa ? layout.cores[c].numa : 0;
    auto [it, added] = binOfNuma.emplace(key, bins.size());
    if (added) bins.emplace_back();
    bins[it->second].push_back(static_cast<int>(c));
  }
  return bins;
}

}  // namespace

std::optional<BindTo> parseBindTo(std::string_view text) {
  if (text == "core") return BindTo::Core;
  if (text == "numa") return BindTo::Numa;
  if (text == "none") return BindTo::None;
  return std::nullopt;
}

std::optional<MapBy> parseMapBy(std::string_view text) {
  if (text == "core") return MapBy::Core;
  if (text == "numa") return MapBy::Numa;
  return std::nullopt;
}

const char* bindToName(BindTo bindTo) {
  switch (bindTo) {
    case BindTo::Core:
      return "core";
    case BindTo::Numa:
      return "numa";
    case BindTo::None:
      break;
  }
  return "none";
}

const char* mapByName(MapBy mapBy) { return mapBy == MapBy::Numa ? "numa" : "core"; }

BindTo defaultBindTo(int ranks, int width, int cores) {
  if (ranks <= 0 || width <= 0) return BindTo::None;
  return static_cast<long>(ranks) * width <= cores ? BindTo::Core : BindTo::None;
}

std::vector<std::vector<int>> planBinding(const CpuLayout& layout, int ranks, int width,
                                          BindTo bindTo, MapBy mapBy) {
  std::vector<std::vector<int>> plan(static_cast<size_t>(std::max(ranks, 0)));
  if (bindTo == BindTo::None || layout.cores.empty() || ranks <= 0) return plan;
  width = std::max(width, 1);
  // Rank r goes to bin r % bins as that bin's (r / bins)-th rank, and takes the next
  // `width` cores of its bin, wrapping within the bin when the bin is full.
  const std::vector<std::vector<int>> bins = mappingBins(layout, mapBy);
  for (int r = 0; r < ranks; ++r) {
    const std::vector<int>& bin = bins[static_cast<size_t>(r) % bins.size()];
    const size_t first = static_cast<size_t>(r) / bins.size() * static_cast<size_t>(width);
    std::set<int> numas;
    std::vector<int>& cpus = plan[static_cast<size_t>(r)];
    for (int k = 0; k < width; ++k) {
      const CoreCpus& core = layout.cores[static_cast<size_t>(bin[(first + k) % bin.size()])];
      cpus.insert(cpus.end(), core.cpus.begin(), core.cpus.end());
      numas.insert(core.numa);
    }
    if (bindTo == BindTo::Numa) {
      for (const CoreCpus& core : layout.cores) {
        if (numas.count(core.numa) != 0)
          cpus.insert(cpus.end(), core.cpus.begin(), core.cpus.end());
      }
    }
    sortUnique(cpus);
  }
  return plan;
}

BindingDecision decideBinding(std::optional<BindTo> request, MapBy mapBy, int ranks, int width,
                              const CpuLayout& layout, bool prePinned) {
  BindingDecision d;
  const int cores = static_cast<int>(layout.cores.size());
  const std::string shape = std::to_string(ranks) + (ranks == 1 ? " rank" : " ranks") +
                            (width > 1 ? " of " + std::to_string(width) + " cores" : "") + " on " +
                            std::to_string(cores) + (cores == 1 ? " core" : " cores");
  if (request == BindTo::None) {
    d.why = "not bound (bind-to none)";
  } else if (!request && prePinned) {
    d.why = "keeps the binding it was started with";
  } else {
    d.bindTo = request.value_or(defaultBindTo(ranks, width, cores));
    d.why = d.bindTo == BindTo::None
                ? shape + ": more ranks than cores, not bound"
                : shape + ", bound to " + bindToName(d.bindTo) + ", mapped by " + mapByName(mapBy);
  }
  d.cpus = planBinding(layout, ranks, width, d.bindTo, mapBy);
  return d;
}

std::string formatCpuList(const std::vector<int>& cpus) {
  std::string text;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!text.empty()) text += ',';
    text += std::to_string(cpus[i]);
    if (j > i) text += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return text;
}

std::optional<std::vector<int>> parseCpuList(std::string_view text) {
  std::vector<int> cpus;
  auto number = [](std::string_view part, int* value) {
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), *value);
    return ec == std::errc() && end == part.data() + part.size() && *value >= 0 &&
           *value < CPU_SETSIZE;
  };
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const size_t dash = item.find('-');
    int lo = 0, hi = 0;
    if (!number(item.substr(0, dash), &lo)) return std::nullopt;
    hi = lo;
    if (dash != std::string_view::npos && !number(item.substr(dash + 1), &hi)) return std::nullopt;
    if (hi < lo) return std::nullopt;
    for (int cpu = lo; cpu <= hi; ++cpu) cpus.push_back(cpu);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return std::nullopt;  // a trailing comma
  }
  if (cpus.empty()) return std::nullopt;
  sortUnique(cpus);
  return cpus;
}

CpuLayout discoverCpuLayout(const std::vector<int>& cpus) {
  hwloc_topology_t t = topology();
  Bitmap within = toBitmap(cpus);
  Bitmap mine = newBitmap();
  CpuLayout layout;
  // A machine whose cores hwloc cannot see (some virtual machines) is laid out by PU.
  const hwloc_obj_type_t type =
      hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
  for (hwloc_obj_t obj = hwloc_get_next_obj_by_type(t, type, nullptr); obj != nullptr;
       obj = hwloc_get_next_obj_by_type(t, type, obj)) {
    hwloc_bitmap_and(mine.get(), obj->cpuset, within.get());
    if (hwloc_bitmap_iszero(mine.get())) continue;
    CoreCpus core;
    core.cpus = toCpus(mine.get());
    const int numa = obj->nodeset != nullptr ? hwloc_bitmap_first(obj->nodeset) : -1;
    core.numa = std::max(numa, 0);
    layout.cores.push_back(std::move(core));
  }
  return layout;
}

std::vector<int> allowedCpus() { return toCpus(hwloc_topology_get_allowed_cpuset(topology())); }

bool narrowerThan(const std::vector<int>& current, const std::vector<int>& allowed) {
  return std::any_of(allowed.begin(), allowed.end(), [&](int cpu) {
    return !std::binary_search(current.begin(), current.end(), cpu);
  });
}

std::vector<int> currentCpus(BindScope scope) {
  // sched_getaffinity, as hwloc reads it, for the calling thread; for the process, the
  // union over its threads.
  Bitmap set = newBitmap();
  if (hwloc_get_cpubind(topology(), set.get(), cpubindFlags(scope)) != 0) {
    throwSystemError("hwloc_get_cpubind");
  }
  return toCpus(set.get());
}

std::string bindCpus(const std::vector<int>& cpus, BindScope scope) {
  if (cpus.empty()) return "no CPUs to bind to";
  Bitmap set = toBitmap(cpus);
  if (hwloc_set_cpubind(topology(), set.get(), cpubindFlags(scope)) != 0) {
    return std::string("hwloc_set_cpubind: ") + std::strerror(errno);
  }
  return "";
}

}  // namespace prism::topo
