/// The elementary layers of the model: linear, layer norm, embedding, GELU and the
/// cross-entropy loss. Each forward returns what its backward needs in a small cache; each
/// backward accumulates parameter gradients into Param::g.
#pragma once

#include <vector>

#include "train/model/param.h"

namespace prism::train {

/// y[n,out] = x[n,in] * w[in,out] (+ b).
void linearForward(const Vec& x, const Param& w, const Param* b, Vec& y);
/// dw += x^T dy, db += colsum(dy); dx = dy w^T when dx is given.
void linearBackward(const Vec& x, const Vec& dy, Param& w, Param* b, Vec* dx);

/// Adds colsum(dy) into b.g (a bias added outside linearForward).
void biasBackward(const Vec& dy, Param& b);
/// y[n, :] += b for every row.
void addBias(Vec& y, const Param& b);

struct LayerNorm {
  Param gamma, beta;
  struct Cache {
    Vec xhat, rstd;
  };
  void forward(const Vec& x, Vec& y, Cache& c) const;
  void backward(const Cache& c, const Vec& dy, Vec& dx);
};

struct Embedding {
  Param token, position;  ///< [vocab, hidden], [seq, hidden]
  void forward(const std::vector<int>& tokens, const std::vector<int>& positions, Vec& y) const;
  void backward(const std::vector<int>& tokens, const std::vector<int>& positions, const Vec& dy);
};

/// GELU (tanh approximation) and its derivative.
void geluForward(const Vec& x, Vec& y);
void geluBackward(const Vec& x, const Vec& dy, Vec& dx);

/// Sum over rows of -log softmax(logits)[target]; dlogits = (softmax - onehot) * scale.
double crossEntropy(const Vec& logits, const std::vector<int>& targets, int vocab, float scale,
                    Vec& dlogits);

}  // namespace prism::train
