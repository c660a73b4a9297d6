/// Expert parallelism: each rank of the ep group holds experts / ep experts. Routed rows
/// travel to their expert's rank and back with all-to-alls. allToAll moves equal counts to
/// every peer, so each peer gets a fixed slot of `rows` entries (the most any rank can
/// send it), and a small all-to-all of row counts and expert ids goes first.
#pragma once

#include <vector>

#include "train/model/hooks.h"
#include "train/parallel/traced_comm.h"

namespace prism::train {

class ExpertParallel {
 public:
  explicit ExpertParallel(TracedComm& ep) : ep_(ep) {}
  ExpertPlan plan(const std::vector<int>& expert, int experts);
  void toExperts(const ExpertPlan& plan, const Vec& rows, Vec& atExperts, int width);
  void fromExperts(const ExpertPlan& plan, const Vec& atExperts, Vec& rows, int width);

 private:
  TracedComm& ep_;
};

}  // namespace prism::train
