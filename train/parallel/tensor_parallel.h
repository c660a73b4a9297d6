/// Megatron tensor parallelism at the region boundaries: without sequence parallelism,
/// entering a region is the identity forward and an all-reduce of the input gradient
/// backward, leaving it an all-reduce forward and the identity backward. With sequence
/// parallelism each rank keeps a slice of the tokens outside the regions: entering
/// all-gathers them (reduce-scatter backward), leaving reduce-scatters (all-gather
/// backward).
#pragma once

#include "train/model/tensor.h"
#include "train/parallel/traced_comm.h"

namespace prism::train {

class TensorParallel {
 public:
  TensorParallel(TracedComm& tp, bool sequenceParallel) : tp_(tp), sp_(sequenceParallel) {}
  void enterForward(const Vec& x, Vec& full);
  void enterBackward(const Vec& dfull, Vec& dx);
  void exitForward(const Vec& partial, Vec& y);
  void exitBackward(const Vec& dy, Vec& dpartial);

 private:
  void gather(const Vec& local, Vec& full);
  void scatterSum(const Vec& full, Vec& local);
  void sum(const Vec& in, Vec& out);

  TracedComm& tp_;
  bool sp_;
};

}  // namespace prism::train
