/// Context parallelism: the sequence is cut into 2*cp chunks and rank i holds chunks i and
/// 2*cp-1-i, so every rank has the same share of causal work. Attention passes key/value
/// blocks around the ring (send to rank+1, receive from rank-1), folding each into an
/// online softmax; the next block is in flight while the current one is computed. The
/// backward pass sends each block on with its accumulating key/value gradients, which
/// arrive back at their owner after a full turn.
#pragma once

#include <vector>

#include "train/model/attention_core.h"
#include "train/parallel/traced_comm.h"

namespace prism::train {

/// Global positions of the seq/cp tokens per sequence that context rank `rank` holds.
std::vector<int> contextPositions(int seq, int cp, int rank);

class RingAttention {
 public:
  RingAttention(TracedComm& cp, int seq);
  void forward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v, Vec& out, Vec& lse);
  void backward(const AttnShape& s, const Vec& q, const Vec& k, const Vec& v, const Vec& out,
                const Vec& lse, const Vec& dout, Vec& dq, Vec& dk, Vec& dv);

 private:
  /// Sends `count` floats at send to the next rank, receives as many from the previous.
  void shift(const float* send, float* recv, size_t count);

  TracedComm& cp_;
  std::vector<std::vector<int>> positions_;  ///< per context rank
};

}  // namespace prism::train
