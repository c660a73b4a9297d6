// Ranks bound to cores, as mpirun binds them: the policy (--bind-to, --map-by, the default),
// the plan that gives each rank of a host its CPUs, and reading and setting a process's or
// a thread's CPUs through hwloc. prism-run, prism-bench's forked and thread ranks and the
// library's prismBindProcess/prismBindThread all decide here, so they decide alike.
//
// The policy is pure (a CpuLayout in, CPU lists out) so that it is tested on machines this
// one is not. Only discoverCpuLayout, allowedCpus, currentCpus and bindCpus touch the system.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prism::topo {

/// What a rank is bound to (mpirun's --bind-to): one core (all its hardware threads), the
/// cores of its core's NUMA node, or nothing.
enum class BindTo { Core, Numa, None };

/// How ranks are laid over the cores (mpirun's --map-by): in core order, or round robin
/// over NUMA nodes (rank 0 on the first node, rank 1 on the second, ...).
enum class MapBy { Core, Numa };

/// "core", "numa", "none"; nullopt for anything else (case-sensitive, as mpirun).
std::optional<BindTo> parseBindTo(std::string_view text);
/// "core", "numa"; nullopt for anything else.
std::optional<MapBy> parseMapBy(std::string_view text);
const char* bindToName(BindTo bindTo);
const char* mapByName(MapBy mapBy);

/// One core a rank may use: its hardware threads (OS CPU numbers, ascending) and the OS
/// index of its NUMA node.
struct CoreCpus {
  std::vector<int> cpus;
  int numa = 0;
};

/// The cores of a host (or of the part a process may use), in hwloc's logical order, which
/// keeps the cores of one NUMA node together.
struct CpuLayout {
  std::vector<CoreCpus> cores;
};

/// The default of mpirun: Core when every rank of the host can have `width` cores of its
/// own (ranks x width <= cores), else None (oversubscribed ranks must be free to move).
BindTo defaultBindTo(int ranks, int width, int cores);

/// The CPUs of each of `ranks` ranks (index = local rank), each spanning `width`
/// consecutive cores of the mapping order. Ranks past the last core wrap round robin, so
/// an explicit Core binding of more ranks than cores shares cores evenly. With BindTo::Numa
/// a rank gets every CPU of the NUMA node(s) its cores are on. BindTo::None, no ranks or
/// an empty layout give empty lists (not bound). CPU lists are ascending, without repeats.
std::vector<std::vector<int>> planBinding(const CpuLayout& layout, int ranks, int width,
                                          BindTo bindTo, MapBy mapBy);

/// What to do for `ranks` ranks of `width` cores each over `layout` (the CPUs the deciding
/// process may use), and why, in words for the INFO line. `request` is the user's
/// --bind-to (nullopt: the default). `prePinned`: the deciding process was started on
/// fewer CPUs than the machine allows, so an outside launcher (taskset, srun --cpu-bind,
/// mpirun) bound it; without a request that binding is kept (bindTo None, nothing set).
struct BindingDecision {
  BindTo bindTo = BindTo::None;
  std::vector<std::vector<int>> cpus;  ///< per rank; empty lists when not bound
  std::string why;
};
BindingDecision decideBinding(std::optional<BindTo> request, MapBy mapBy, int ranks, int width,
                              const CpuLayout& layout, bool prePinned);

/// The launcher's decision as it travels to a rank process in its environment: prism-run
/// and prism-bench's --bind-to and --map-by, and the CPUs prism-run bound the rank to.
inline constexpr const char* kBindToVar = "PRISM_BIND_TO";
inline constexpr const char* kMapByVar = "PRISM_MAP_BY";
inline constexpr const char* kCpuListVar = "PRISM_CPU_LIST";

/// A Linux CPU list, as in /proc/self/status Cpus_allowed_list and taskset -c: "0-3,8,10".
std::string formatCpuList(const std::vector<int>& cpus);
/// The CPUs of a list like "0-3,8" (ascending, without repeats); nullopt when malformed or
/// empty.
std::optional<std::vector<int>> parseCpuList(std::string_view text);

/// The cores of this machine that contain at least one of `cpus`, each reduced to those
/// CPUs (the layout a process bound to `cpus` may use). Throws prism::Error
/// (ncclSystemError) only when hwloc fails.
CpuLayout discoverCpuLayout(const std::vector<int>& cpus);

/// The CPUs this process could be given at all: online and allowed by its cgroup
/// (hwloc's allowed cpuset). A process whose affinity is narrower was bound by whoever
/// started it.
std::vector<int> allowedCpus();

/// Whether `current` leaves out any of `allowed`: the process was started pinned.
bool narrowerThan(const std::vector<int>& current, const std::vector<int>& allowed);

/// Whose CPUs bindCpus and currentCpus read or set: the whole process (every thread it
/// has; threads started later inherit it), or the calling thread only.
enum class BindScope { Process, Thread };

/// The CPUs the process or the calling thread may run on now (sched_getaffinity).
std::vector<int> currentCpus(BindScope scope);

/// Binds the process or the calling thread to `cpus`. Returns "" on success, else why not
/// (hwloc's reason), for the caller to warn with: a binding that cannot be set leaves the
/// rank running, unbound.
std::string bindCpus(const std::vector<int>& cpus, BindScope scope);

}  // namespace prism::topo
