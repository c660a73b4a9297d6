#include "train/model/param.h"

#include <stdexcept>

namespace prism::train {

Param makeParam(const std::string& name, int rows, int cols, Split split, int rank, int parts,
                Rng& rng, float scale, float fill) {
  // Every rank draws the full tensor, so shards of one seed fit together exactly.
  Vec full(static_cast<size_t>(rows) * cols);
  for (float& x : full) x = scale == 0.0f ? fill : rng.normal() * scale;
  Param p;
  p.name = name;
  p.split = split;
  if (split == Split::None || parts == 1) {
    p.rows = rows;
    p.cols = cols;
    p.w = std::move(full);
  } else if (split == Split::Cols) {
    if (cols % parts != 0) throw std::invalid_argument(name + ": columns not divisible by tp");
    const int c = cols / parts;
    p.rows = rows;
    p.cols = c;
    p.w.resize(static_cast<size_t>(rows) * c);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < c; ++j)
        p.w[static_cast<size_t>(i) * c + j] = full[static_cast<size_t>(i) * cols + rank * c + j];
  } else {
    if (rows % parts != 0) throw std::invalid_argument(name + ": rows not divisible by tp");
    const int r = rows / parts;
    p.rows = r;
    p.cols = cols;
    p.w.assign(full.begin() + static_cast<size_t>(rank) * r * cols,
               full.begin() + static_cast<size_t>(rank + 1) * r * cols);
  }
  p.zeroGrad();
  return p;
}

}  // namespace prism::train
