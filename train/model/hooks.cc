#include "train/model/hooks.h"

namespace prism::train {

void Hooks::attentionForward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v, Vec& out,
                             Vec& lse) {
  AttnState st;
  attnBegin(s, st);
  attnAccumulate(s, q.data(), k.data(), v.data(), positions_.data(), positions_.data(), st);
  attnFinish(s, st, out, lse);
}

void Hooks::attentionBackward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v,
                              const Vec& out, const Vec& lse, const Vec& dout, Vec& dq, Vec& dk,
                              Vec& dv) {
  Vec delta;
  attnDelta(s, dout, out, delta);
  dq.assign(s.qSize(), 0.0f);
  dk.assign(s.kSize(), 0.0f);
  dv.assign(s.kSize(), 0.0f);
  attnBlockBackward(s, q.data(), k.data(), v.data(), positions_.data(), positions_.data(), lse,
                    delta, dout, dq.data(), dk.data(), dv.data());
}

ExpertPlan Hooks::planExperts(const std::vector<int>& expert, int experts) {
  ExpertPlan plan;
  plan.localExpert = expert;
  return plan;
}

}  // namespace prism::train
