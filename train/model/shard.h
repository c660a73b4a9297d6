/// Which part of the full model one rank holds.
#pragma once

namespace prism::train {

struct ModelShard {
  int tp = 1, tpRank = 0;  ///< heads and MLP columns split tp ways
  int ep = 1, epRank = 0;  ///< experts split ep ways
  int firstLayer = 0;      ///< blocks [firstLayer, lastLayer) live here
  int lastLayer = -1;      ///< -1: all layers
  bool embedding = true;   ///< first pipeline stage
  bool head = true;        ///< last pipeline stage
};

}  // namespace prism::train
