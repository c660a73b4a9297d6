/// Gradient reduction and the optimizer step for data parallelism and ZeRO, per parameter
/// group (embedding, each block, head). A group's reduction is launched as soon as the
/// backward pass of the last micro-batch leaves the group, so it runs while earlier groups
/// are still computing; finishStep() waits for all of them and updates the parameters.
///   stage 0 (dp): all-reduce the gradients through overlap::GradBucketer (buckets fill in
///            backward order and launch as soon as they are complete), every rank updates
///            everything.
///   stage 1: all-reduce the gradients, each rank updates its 1/dp shard with its shard of
///            the momentum, then the shards are all-gathered.
///   stage 2: reduce-scatter the gradients instead of all-reducing them.
///   stage 3: parameters live as shards in an overlap::ParamPrefetcher (one unit per group);
///            a group is all-gathered before its forward and again before its backward,
///            the next groups' gathers (SyncComms::prefetch of them) are launched while
///            this one computes, and the parameters are dropped (filled with NaN) after
///            use.
/// Before the data-parallel step, gradients that are partial over other dimensions are
/// summed: replicated parameters over tp under sequence parallelism, all over cp.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "train/model/gpt.h"
#include "train/model/optimizer.h"
#include "train/overlap/grad_bucketer.hpp"
#include "train/overlap/param_prefetcher.hpp"
#include "train/parallel/traced_comm.h"

namespace prism::train {

struct SyncComms {
  TracedComm* dp = nullptr;  ///< data-parallel group (ZeRO shards along it)
  TracedComm* cp = nullptr;  ///< context group, or null
  TracedComm* tp = nullptr;  ///< tensor group when sequence parallel, else null
  int zeroStage = 0;
  size_t bucketBytes = size_t{256} << 10;  ///< stage 0: bucket cap (the first: a quarter)
  int prefetch = 1;                        ///< stage 3: groups gathered ahead
  /// Where the bucketer's and prefetcher's buffers live.
  overlap::Memory memory = overlap::Memory::Host;
};

class GradSync {
 public:
  GradSync(Gpt& model, SyncComms comms, float lr, float momentum);
  ~GradSync();

  /// Which micro-batch the next group calls belong to (of `count`).
  void setMicrobatch(int index, int count);
  void beforeGroup(int group, bool backward);
  void afterGroup(int group, bool backward);
  /// Waits for the reductions and applies the optimizer.
  void finishStep();

 private:
  struct Group;
  Group* find(int id);
  void launchReduction(Group& g);
  void gatherParams(Group& g, bool backward);
  /// Launches the all-gather of unit `unit` unless it is gathered; counts it.
  Work unshard(size_t unit);

  SyncComms comms_;
  float lr_, momentum_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::unique_ptr<overlap::GradBucketer> bucketer_;  ///< stage 0 with a dp group
  std::map<const Param*, size_t> bucketIndex_;
  std::unique_ptr<overlap::ParamPrefetcher> prefetcher_;  ///< stage 3
  std::map<int, size_t> unitOf_;                          ///< group id -> prefetcher unit
  Sgd expertSgd_;
  std::vector<Param*> expertParams_;
  int microbatch_ = 0, microbatches_ = 1;
};

}  // namespace prism::train
