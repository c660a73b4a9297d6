/// A model parameter: its (possibly sharded) values, gradient and how it is split under
/// tensor parallelism.
#pragma once

#include <string>
#include <vector>

#include "train/model/tensor.h"

namespace prism::train {

/// How tensor parallelism cuts a parameter. Column-split weights keep a contiguous range
/// of output columns (and of bias entries); row-split weights keep a range of input rows.
enum class Split { None, Cols, Rows };

struct Param {
  std::string name;
  int rows = 1;  ///< local shape
  int cols = 1;
  Split split = Split::None;
  bool expert = false;  ///< owned by one expert-parallel rank, never reduced across ep
  Vec w;
  Vec g;

  size_t size() const { return w.size(); }
  void zeroGrad() { g.assign(w.size(), 0.0f); }
};

/// Builds a parameter of full shape [rows, cols] from `rng` (normal * scale, or the
/// constant `fill` when scale is 0), then keeps shard `rank` of `parts` along `split`.
Param makeParam(const std::string& name, int rows, int cols, Split split, int rank, int parts,
                Rng& rng, float scale, float fill = 0.0f);

}  // namespace prism::train
