/// The model's Hooks for a parallel run: forwards each seam to the component that owns it
/// (tensor/sequence parallel regions, ring attention, expert dispatch, gradient
/// synchronization); a missing component means that dimension has degree 1.
#pragma once

#include "train/model/hooks.h"
#include "train/parallel/expert_parallel.h"
#include "train/parallel/grad_sync.h"
#include "train/parallel/ring_attention.h"
#include "train/parallel/tensor_parallel.h"

namespace prism::train {

struct HookParts {
  TensorParallel* tp = nullptr;
  RingAttention* cp = nullptr;
  ExpertParallel* ep = nullptr;
  GradSync* sync = nullptr;
};

class ParallelHooks : public Hooks {
 public:
  ParallelHooks(std::vector<int> positions, HookParts parts)
      : Hooks(std::move(positions)), parts_(parts) {}

  void enterForward(const Vec& x, Vec& full, int width) override;
  void enterBackward(const Vec& dfull, Vec& dx, int width) override;
  void exitForward(const Vec& partial, Vec& y, int width) override;
  void exitBackward(const Vec& dy, Vec& dpartial, int width) override;
  void attentionForward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v, Vec& out,
                        Vec& lse) override;
  void attentionBackward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v,
                         const Vec& out, const Vec& lse, const Vec& dout, Vec& dq, Vec& dk,
                         Vec& dv) override;
  ExpertPlan planExperts(const std::vector<int>& expert, int experts) override;
  void toExperts(const ExpertPlan& plan, const Vec& rows, Vec& atExperts, int width) override;
  void fromExperts(const ExpertPlan& plan, const Vec& atExperts, Vec& rows, int width) override;
  void beforeGroup(int group, bool backward) override;
  void afterGroup(int group, bool backward) override;

 private:
  HookParts parts_;
};

}  // namespace prism::train
