// prismBindProcess and prismBindThread: a rank's side of binding ranks to cores. The policy
// and the system calls are topology/cpu_binding.h; this file reads the launcher's decision
// from the environment (PRISM_CPU_LIST, PRISM_BIND_TO, PRISM_MAP_BY: launcher protocol,
// like PRISM_RANK, so read here beside launch_env.cc rather than in the configuration
// table), applies it and says what it did at INFO.
#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/log.h"
#include "prism/prism.h"
#include "src/api/guard.h"
#include "topology/cpu_binding.h"

namespace prism::launch {
namespace {

using topo::BindScope;

/// Whether prismBindProcess left this process unbound by its own decision (its ranks
/// outnumber the cores): its thread ranks then stay unbound too, since their siblings in
/// other processes share the same cores. Unset when the process was bound, kept an outside
/// binding, or never asked.
std::atomic<bool> processLeftUnbound{false};

std::optional<std::string> launcherVar(const char* name) {
  const char* value = std::getenv(name);  // launcher protocol, not a Prism setting
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::optional<topo::BindTo> requestedBindTo() {
  auto text = launcherVar(topo::kBindToVar);
  if (!text) return std::nullopt;
  auto bindTo = topo::parseBindTo(*text);
  check(bindTo.has_value(), ncclInvalidUsage,
        std::string(topo::kBindToVar) + "=" + *text + ": expected core, numa or none");
  return bindTo;
}

topo::MapBy requestedMapBy() {
  auto text = launcherVar(topo::kMapByVar);
  if (!text) return topo::MapBy::Core;
  auto mapBy = topo::parseMapBy(*text);
  check(mapBy.has_value(), ncclInvalidUsage,
        std::string(topo::kMapByVar) + "=" + *text + ": expected core or numa");
  return *mapBy;
}

/// Binds to `cpus` (unless empty) and logs the CPUs the scope has afterwards, as the
/// kernel reports them, so the INFO line is the binding itself and not the plan.
void apply(BindScope scope, const char* who, const std::vector<int>& cpus, const std::string& why) {
  if (!cpus.empty()) {
    const std::string failure = topo::bindCpus(cpus, scope);
    if (!failure.empty()) {
      log::warn("%s: cannot bind to cpus %s (%s); running unbound", who,
                topo::formatCpuList(cpus).c_str(), failure.c_str());
      return;
    }
  }
  log::info(log::kInit, "%s on cpus %s: %s", who,
            topo::formatCpuList(topo::currentCpus(scope)).c_str(), why.c_str());
}

void bindProcess(int index, int count, int width) {
  check(count >= 0 && width >= 1 && (count == 0 || (index >= 0 && index < count)),
        ncclInvalidArgument, "prismBindProcess: index, count or width out of range");
  const std::string who = "rank process " + std::to_string(index);
  if (auto list = launcherVar(topo::kCpuListVar)) {
    auto cpus = topo::parseCpuList(*list);
    check(cpus.has_value(), ncclInvalidUsage,
          std::string(topo::kCpuListVar) + "=" + *list + ": not a CPU list like 0-3,8");
    // prism-run has bound the process before exec already; setting it again is harmless
    // and covers a program that changed its binding since.
    apply(BindScope::Process, who.c_str(), *cpus, "bound by the launcher (PRISM_CPU_LIST)");
    return;
  }
  const std::vector<int> current = topo::currentCpus(BindScope::Process);
  if (count == 0) {
    apply(BindScope::Process, who.c_str(), {}, "as the launcher started it");
    return;
  }
  const bool prePinned = topo::narrowerThan(current, topo::allowedCpus());
  const std::optional<topo::BindTo> request = requestedBindTo();
  topo::BindingDecision d = topo::decideBinding(request, requestedMapBy(), count, width,
                                                topo::discoverCpuLayout(current), prePinned);
  processLeftUnbound = !request && !prePinned && d.bindTo == topo::BindTo::None;
  apply(BindScope::Process, who.c_str(), d.cpus[static_cast<size_t>(index)], d.why);
}

void bindThread(int index, int count) {
  check(count >= 1 && index >= 0 && index < count, ncclInvalidArgument,
        "prismBindThread: index or count out of range");
  const std::string who = "thread rank " + std::to_string(index) + " of " + std::to_string(count);
  // Threads share out their process's CPUs, whoever bound the process: never outside them.
  const std::vector<int> current = topo::currentCpus(BindScope::Thread);
  std::optional<topo::BindTo> request = requestedBindTo();
  if (!request && processLeftUnbound) {
    apply(BindScope::Thread, who.c_str(), {}, "not bound, as its process (more ranks than cores)");
    return;
  }
  topo::BindingDecision d = topo::decideBinding(request, requestedMapBy(), count, 1,
                                                topo::discoverCpuLayout(current), false);
  apply(BindScope::Thread, who.c_str(), d.cpus[static_cast<size_t>(index)], d.why);
}

}  // namespace
}  // namespace prism::launch

extern "C" ncclResult_t prismBindProcess(int index, int count, int width) {
  return prism::api::guard(nullptr, "prismBindProcess",
                           [&] { prism::launch::bindProcess(index, count, width); });
}

extern "C" ncclResult_t prismBindThread(int index, int count) {
  return prism::api::guard(nullptr, "prismBindThread",
                           [&] { prism::launch::bindThread(index, count); });
}
