// The plan path's half of a communicator: turns a group's operations into a plan. It
// picks a schedule per collective with the cost model (remembered per size class), binds
// it to the caller's buffers and the communicator's scratch memory, gathers
// point-to-point messages into per-peer streams, and numbers every operation: collectives
// per communicator, point-to-point messages per ordered pair of ranks. A lone call that
// repeats the call before it reuses that call's plan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/fabric.h"
#include "algorithms/schedule.h"
#include "src/core/executor.h"
#include "src/core/operation.h"

namespace prism {

struct AlgorithmInfo;
struct SelectionRequest;
class Transport;

class Planner {
 public:
  /// `fabric`, `hostOf` and `transport` belong to the communicator and outlive the
  /// planner. `algoOverride` is PRISM_ALGO / NCCL_ALGO.
  Planner(int rank, int size, std::string name, const FabricModel& fabric,
          const std::vector<int>& hostOf, const Transport& transport, std::string algoOverride);

  /// The plan of one group's operations (reused storage), numbered as the communicator's
  /// next operations. `recovering`: shrink's set-up exchanges on a failed communicator,
  /// whose programs skip what the failed operation left in the FIFOs.
  Plan& build(std::span<const Operation> ops, bool recovering);
  /// The plan for running `ops` alone: the last plan, rewound and renumbered, when `ops`
  /// is the single call that completed last (completed()); otherwise build().
  Plan& planFor(std::span<const Operation> ops, bool recovering);
  /// Records that `ops` completed alone, so the same call next time replays its plan.
  void completed(std::span<const Operation> ops);

  /// Takes the number of the next collective on the whole communicator (paths that run
  /// one without a plan); lastCollectiveSeq() is the number taken last.
  uint64_t nextCollectiveSeq() { return collectiveSeq_++; }
  uint64_t lastCollectiveSeq() const { return collectiveSeq_ - 1; }

  /// The selector's predicted time of `op` in microseconds (ncclGroupSimulateEnd).
  double predictMicros(const Operation& op) const;
  /// What the selector gets for a collective `op` over the whole communicator.
  SelectionRequest selectionFor(const Operation& op) const;
  /// Whether the cost model prefers the in-network service for an AllReduce of `bytes`
  /// per rank over the best schedule (remembered per size class).
  bool inNetworkPreferred(size_t bytes);
  /// The model's time for an AllReduce of `bytes` per rank through the in-network
  /// service; nullopt where the fabric has no network link for it to save.
  std::optional<double> inNetworkMicros(size_t bytes) const;
  const std::string& algoOverride() const { return algoOverride_; }
  /// The algorithm of the collective planned last (built or replayed), for tests and logs.
  const std::string& lastAlgorithm() const { return lastAlgorithm_; }

  /// The scratch memory schedules use (Schedule::scratchBlocks): its size and address,
  /// which change only when a call needs more than any call before.
  size_t scratchBytes() const { return scratch_.size(); }
  const std::byte* scratchData() const { return scratch_.data(); }

 private:
  /// The schedule for a call: `chosen`'s (the router's choice) where it is set, else the
  /// selector's (remembered per size class).
  const Schedule& scheduleFor(Collective collective, int nranks, int root, size_t bytes,
                              const AlgorithmInfo* chosen);
  /// What the selector needs for a call over `nranks` ranks: the fabric and host groups
  /// when the call spans the whole communicator (internal subset calls run on one host's
  /// model).
  SelectionRequest selectionFor(Collective collective, int nranks, size_t bytes) const;
  Program bindCollective(const Operation& op, bool recovering);
  /// Gives every program of `plan` its operation number and tag: collectives on the
  /// whole communicator count in collectiveSeq_, point-to-point messages per ordered pair
  /// of ranks (sentTo_, receivedFrom_). Operations over a subset of the ranks (set-up
  /// exchanges of split and shrink) keep number 0, so ranks outside the subset stay in
  /// step; their fingerprint is still checked.
  void stamp(Plan& plan);
  /// The scratch memory, at least `bytes` long: grown when a call needs more, then kept.
  std::byte* scratchMemory(size_t bytes);
  void addPointToPoint(std::span<const Operation> ops);

  int rank_;
  int size_;
  std::string name_;
  const FabricModel& fabric_;
  const std::vector<int>& hostOf_;
  const Transport& transport_;
  std::string algoOverride_;
  Plan plan_;
  /// Scratch blocks of the schedules plan_ runs; only ever grows.
  std::vector<std::byte> scratch_;
  /// The last call run alone, when plan_ still holds its plan.
  std::optional<Operation> replay_;
  /// (collective, nranks, root, size class) of a call.
  using SelectionKey = std::tuple<Collective, int, int, int>;
  std::map<std::tuple<const void*, Collective, int, int>, Schedule> schedules_;
  std::map<SelectionKey, const Schedule*> chosen_;
  std::map<int, bool> innetChoice_;  ///< inNetworkPreferred by size class
  uint64_t collectiveSeq_ = 0;
  std::string lastAlgorithm_;
  std::vector<uint64_t> sentTo_;        ///< point-to-point messages sent to each rank
  std::vector<uint64_t> receivedFrom_;  ///< and received from each rank
};

}  // namespace prism
