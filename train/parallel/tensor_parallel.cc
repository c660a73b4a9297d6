#include "train/parallel/tensor_parallel.h"

namespace prism::train {

// Activations sit on the critical path: every call is High priority and waited at once.
void TensorParallel::gather(const Vec& local, Vec& full) {
  full.resize(local.size() * tp_.size());
  tp_.wait(tp_.allGather(local.data(), full.data(), local.size(), Priority::High));
}

void TensorParallel::scatterSum(const Vec& full, Vec& local) {
  local.resize(full.size() / tp_.size());
  tp_.wait(tp_.reduceScatter(full.data(), local.data(), local.size(), Priority::High));
}

void TensorParallel::sum(const Vec& in, Vec& out) {
  out = in;
  tp_.wait(tp_.allReduce(out.data(), out.size(), Priority::High));
}

void TensorParallel::enterForward(const Vec& x, Vec& full) {
  if (sp_)
    gather(x, full);
  else
    full = x;
}

void TensorParallel::enterBackward(const Vec& dfull, Vec& dx) {
  if (sp_)
    scatterSum(dfull, dx);
  else
    sum(dfull, dx);
}

void TensorParallel::exitForward(const Vec& partial, Vec& y) {
  if (sp_)
    scatterSum(partial, y);
  else
    sum(partial, y);
}

void TensorParallel::exitBackward(const Vec& dy, Vec& dpartial) {
  if (sp_)
    gather(dy, dpartial);
  else
    dpartial = dy;
}

}  // namespace prism::train
