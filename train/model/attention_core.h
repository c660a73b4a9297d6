/// Causal multi-head attention over blocks of keys, with the online softmax, so that a rank
/// may see the keys and values of a sequence one block at a time (ring attention) and still
/// get exact results. Masking uses global token positions: query i sees key j iff
/// kpos[j] <= qpos[i].
///
/// Layouts: q, k, v, out are [batch, tokens, heads * headDim]; the running max `m`, the
/// running denominator `l` and `lse` are [batch, heads, tq].
#pragma once

#include "train/model/tensor.h"

namespace prism::train {

struct AttnShape {
  int batch = 1;
  int tq = 1;  ///< query tokens per sequence
  int tk = 1;  ///< key tokens per sequence in one block
  int heads = 1;
  int dh = 1;
  size_t qSize() const { return static_cast<size_t>(batch) * tq * heads * dh; }
  size_t kSize() const { return static_cast<size_t>(batch) * tk * heads * dh; }
  size_t rowStats() const { return static_cast<size_t>(batch) * heads * tq; }
};

/// Online-softmax state of the forward pass.
struct AttnState {
  Vec m, l, acc;
};

void attnBegin(const AttnShape& s, AttnState& st);
/// Folds one block of keys/values into the state.
void attnAccumulate(const AttnShape& s, const float* q, const float* k, const float* v,
                    const int* qpos, const int* kpos, AttnState& st);
/// out = acc / l; lse = m + log(l) (kept for the backward pass).
void attnFinish(const AttnShape& s, const AttnState& st, Vec& out, Vec& lse);

/// delta[b,h,i] = sum_d dout * out: the softmax-backward row term.
void attnDelta(const AttnShape& s, const Vec& dout, const Vec& out, Vec& delta);
/// Accumulates the gradients that one key block contributes: dq (all queries), dk and dv
/// (this block).
void attnBlockBackward(const AttnShape& s, const float* q, const float* k, const float* v,
                       const int* qpos, const int* kpos, const Vec& lse, const Vec& delta,
                       const Vec& dout, float* dq, float* dk, float* dv);

}  // namespace prism::train
