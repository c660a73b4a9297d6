#include "algorithms/select.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "algorithms/algo_override.h"
#include "base/log.h"
#include "base/text.h"

namespace prism {
namespace {

/// The algorithms named in `list` (comma separated, case-insensitive) that support `c`.
/// Unknown names and names that cannot run `c` are skipped.
std::vector<const AlgorithmInfo*> namedAlgorithms(std::string_view list, Collective c) {
  std::vector<const AlgorithmInfo*> named;
  for (std::string_view name : overrideNames(list)) {
    const AlgorithmInfo* info = findAlgorithm(name);
    if (info != nullptr && info->supports(c)) named.push_back(info);
  }
  return named;
}

/// The algorithms the model chooses from. As with NCCL_ALGO, "a,b" allows only those and
/// "^a,b" excludes them; when that leaves nothing usable, every supporting one competes.
std::vector<const AlgorithmInfo*> candidates(const SelectionRequest& request) {
  std::vector<const AlgorithmInfo*> all;
  const ScheduleRequest schedule = scheduleRequestFor(request, 0);
  for (const AlgorithmInfo& info : allAlgorithms()) {
    if (info.supports(request.collective) && (!info.applies || info.applies(schedule))) {
      all.push_back(&info);
    }
  }
  std::string_view forced = trimSpaces(overrideFor(request.forced, request.collective));
  if (forced.empty()) return all;
  const bool exclude = forced.front() == '^';
  if (exclude) forced.remove_prefix(1);
  const std::vector<const AlgorithmInfo*> named = namedAlgorithms(forced, request.collective);
  std::vector<const AlgorithmInfo*> chosen;
  if (exclude) {
    for (const AlgorithmInfo* info : all) {
      if (std::find(named.begin(), named.end(), info) == named.end()) chosen.push_back(info);
    }
  } else {
    for (const AlgorithmInfo* info : named) {
      if (std::find(all.begin(), all.end(), info) != all.end()) chosen.push_back(info);
    }
  }
  if (chosen.empty()) {
    log::info(log::kTuning, "algorithm override '%.*s' has nothing for %s, using the model",
              static_cast<int>(request.forced.size()), request.forced.data(),
              collectiveName(request.collective));
    return all;
  }
  return chosen;
}

}  // namespace

ScheduleRequest scheduleRequestFor(const SelectionRequest& request, int root) {
  std::vector<int> groups;
  if (request.groupOf != nullptr &&
      request.groupOf->size() == static_cast<size_t>(request.nranks)) {
    groups = *request.groupOf;
  }
  return ScheduleRequest(request.collective, request.nranks, root, std::move(groups));
}

Prediction predict(const AlgorithmInfo& algorithm, const SelectionRequest& request) {
  Prediction none;
  none.micros = std::numeric_limits<double>::infinity();
  none.completes = false;
  if (!algorithm.supports(request.collective) || request.nranks < 1) return none;
  const Schedule schedule = algorithm.generate(scheduleRequestFor(request, 0));
  // `bytes` is the larger buffer (nccl-tests' size); both are cut into equal blocks.
  const double blocks = std::max(schedule.inputBlocks, schedule.outputBlocks);
  const double blockBytes = static_cast<double>(request.bytes) / blocks;
  if (request.fabric != nullptr && request.fabric->nranks == request.nranks) {
    return simulateSchedule(schedule, blockBytes, *request.fabric);
  }
  return simulateSchedule(schedule, blockBytes, sharedMemoryFabric(request.nranks, CostProfile{}));
}

double predictMicros(const AlgorithmInfo& algorithm, const SelectionRequest& request) {
  return predict(algorithm, request).micros;
}

const AlgorithmInfo& selectAlgorithm(const SelectionRequest& request) {
  const std::vector<const AlgorithmInfo*> pool = candidates(request);
  const AlgorithmInfo* best = nullptr;
  double bestMicros = std::numeric_limits<double>::infinity();
  for (const AlgorithmInfo* info : pool) {
    const Prediction p = predict(*info, request);
    const double micros = p.micros;
    log::info(log::kTuning,
              "%s nranks %d bytes %zu: %s predicted %.2f us (latency %.2f, cpu %.2f, bandwidth "
              "%.2f on %s, paced beyond burst %.2f, reduce %.2f)",
              collectiveName(request.collective), request.nranks, request.bytes, info->name, micros,
              p.latencyMicros, p.cpuMicros, p.bandwidthMicros,
              p.bottleneck.empty() ? "-" : p.bottleneck.c_str(), p.pacedMicros, p.reduceMicros);
    if (best == nullptr || micros < bestMicros) {
      best = info;
      bestMicros = micros;
    }
  }
  // Every collective has a generator, so `pool` is never empty; keep the promise anyway.
  if (best == nullptr) best = &allAlgorithms().front();
  log::info(log::kTuning, "%s nranks %d bytes %zu: selected %s (%d channel%s, chunk %zu B)",
            collectiveName(request.collective), request.nranks, request.bytes, best->name,
            best->channels, best->channels == 1 ? "" : "s", request.chunkBytes);
  return *best;
}

}  // namespace prism
