#include "train/parallel/parallel_hooks.h"

namespace prism::train {

void ParallelHooks::enterForward(const Vec& x, Vec& full, int width) {
  if (parts_.tp)
    parts_.tp->enterForward(x, full);
  else
    Hooks::enterForward(x, full, width);
}

void ParallelHooks::enterBackward(const Vec& dfull, Vec& dx, int width) {
  if (parts_.tp)
    parts_.tp->enterBackward(dfull, dx);
  else
    Hooks::enterBackward(dfull, dx, width);
}

void ParallelHooks::exitForward(const Vec& partial, Vec& y, int width) {
  if (parts_.tp)
    parts_.tp->exitForward(partial, y);
  else
    Hooks::exitForward(partial, y, width);
}

void ParallelHooks::exitBackward(const Vec& dy, Vec& dpartial, int width) {
  if (parts_.tp)
    parts_.tp->exitBackward(dy, dpartial);
  else
    Hooks::exitBackward(dy, dpartial, width);
}

void ParallelHooks::attentionForward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v,
                                     Vec& out, Vec& lse) {
  if (parts_.cp)
    parts_.cp->forward(s, q, k, v, out, lse);
  else
    Hooks::attentionForward(s, q, k, v, out, lse);
}

void ParallelHooks::attentionBackward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v,
                                      const Vec& out, const Vec& lse, const Vec& dout, Vec& dq,
                                      Vec& dk, Vec& dv) {
  if (parts_.cp)
    parts_.cp->backward(s, q, k, v, out, lse, dout, dq, dk, dv);
  else
    Hooks::attentionBackward(s, q, k, v, out, lse, dout, dq, dk, dv);
}

ExpertPlan ParallelHooks::planExperts(const std::vector<int>& expert, int experts) {
  return parts_.ep ? parts_.ep->plan(expert, experts) : Hooks::planExperts(expert, experts);
}

void ParallelHooks::toExperts(const ExpertPlan& plan, const Vec& rows, Vec& at, int width) {
  if (parts_.ep)
    parts_.ep->toExperts(plan, rows, at, width);
  else
    Hooks::toExperts(plan, rows, at, width);
}

void ParallelHooks::fromExperts(const ExpertPlan& plan, const Vec& at, Vec& rows, int width) {
  if (parts_.ep)
    parts_.ep->fromExperts(plan, at, rows, width);
  else
    Hooks::fromExperts(plan, at, rows, width);
}

void ParallelHooks::beforeGroup(int group, bool backward) {
  if (parts_.sync) parts_.sync->beforeGroup(group, backward);
}

void ParallelHooks::afterGroup(int group, bool backward) {
  if (parts_.sync) parts_.sync->afterGroup(group, backward);
}

}  // namespace prism::train
