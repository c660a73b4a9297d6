// A communicator's tuner: the loaded plugin's context for this communicator (init at
// creation, finalize at destruction) and the question asked for every host collective:
// Prism's cost table goes in, the plugin's choice comes out as a route for the call. Every
// answer is logged under TUNING, and every answer Prism cannot follow says why.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "algorithms/select.h"
#include "src/comm/tuner_plugin.h"
#include "src/comm/tuner_table.h"

namespace prism {

/// What the router does with a call after the tuner answered.
struct TunerDecision {
  enum class Route : uint8_t {
    Model,      ///< no usable answer: Prism's own path and selection
    Plan,       ///< the plan path with `algorithm`
    InNetwork,  ///< the in-network service (COLLNET)
  };
  Route route = Route::Model;
  const AlgorithmInfo* algorithm = nullptr;
};

class CommTuner {
 public:
  /// The tuner of a communicator named `comm` (rank `rank`, for logs), or null when no
  /// plugin is loaded or its init failed (a WARN naming the code).
  static std::unique_ptr<CommTuner> create(std::shared_ptr<const TunerPlugin> plugin,
                                           const TunerInitArgs& args, const std::string& comm,
                                           int rank);
  ~CommTuner();
  CommTuner(const CommTuner&) = delete;
  CommTuner& operator=(const CommTuner&) = delete;

  /// Asks the plugin about one call the selector would get as `request` (its `forced` is
  /// PRISM_ALGO). `inNetworkMicros` is set where the in-network service may take the call.
  TunerDecision decide(const SelectionRequest& request, std::optional<double> inNetworkMicros);

  const TunerPlugin& plugin() const { return *plugin_; }

 private:
  CommTuner(std::shared_ptr<const TunerPlugin> plugin, void* context)
      : plugin_(std::move(plugin)), context_(context) {}
  /// The offered table for a call, computed once per (collective, ranks, bytes): the
  /// predictions behind it generate and simulate schedules.
  const TunerTable& tableFor(const SelectionRequest& request, std::optional<double> innet);
  /// Logs `answer` for the call and returns the Model route.
  TunerDecision ownChoice(const SelectionRequest& request, const std::string& answer) const;

  std::shared_ptr<const TunerPlugin> plugin_;
  void* context_;
  std::map<std::tuple<Collective, int, size_t, bool>, TunerTable> tables_;
};

}  // namespace prism
