// Where a schedule's blocks live in the caller's buffers, and how rounds slice them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>

#include "algorithms/schedule.h"

namespace prism {

/// One buffer of one rank, cut into equal blocks of `stride` elements (the last ones may be
/// short or empty when the count does not divide evenly).
struct BufferLayout {
  std::byte* base = nullptr;
  size_t stride = 0;  ///< elements per block
  size_t total = 0;   ///< elements in the buffer
  size_t elemSize = 1;

  size_t blockElems(int block) const {
    size_t start = static_cast<size_t>(block) * stride;
    return start >= total ? 0 : std::min(stride, total - start);
  }
};

/// The element range a step touches in one round: block `b`, elements
/// [round * roundElems, +roundElems) of it, clipped to the block.
struct Region {
  std::byte* data = nullptr;
  size_t bytes = 0;
};

inline Region blockRegion(const BufferLayout& layout, int block, size_t round, size_t roundElems) {
  size_t len = layout.blockElems(block);
  size_t first = round * roundElems;
  if (first >= len) return {};
  size_t elems = std::min(roundElems, len - first);
  size_t offset = static_cast<size_t>(block) * layout.stride + first;
  return {layout.base + offset * layout.elemSize, elems * layout.elemSize};
}

/// True when a collective's buffers are one array split into blocks (AllReduce, Reduce,
/// Broadcast); false when a block is one rank's `count`-element share.
inline bool splitsCount(Collective c) {
  return c == Collective::AllReduce || c == Collective::Reduce || c == Collective::Broadcast;
}

/// How many `count`-element shares a collective's larger buffer holds: 1 where the count
/// is split, nranks where each block is one rank's share.
inline size_t bufferShares(Collective c, int nranks) {
  return splitsCount(c) ? 1 : static_cast<size_t>(nranks);
}

/// Scratch blocks 0 .. blocks-1 cut like `input` (schedule.h, Schedule::scratchBlocks):
/// every block one share where blocks are shares; where the count is split, block b as
/// long as input block b. `base` may be null until the memory is known.
inline BufferLayout scratchLayout(const BufferLayout& input, Collective c, int blocks,
                                  std::byte* base) {
  BufferLayout layout;
  layout.base = base;
  layout.stride = input.stride;
  layout.elemSize = input.elemSize;
  layout.total = static_cast<size_t>(blocks) * input.stride;
  if (splitsCount(c)) layout.total = std::min(layout.total, input.total);
  return layout;
}

/// 1 + the highest scratch block `steps` name, or 0 when they use no scratch: what one rank
/// needs of a schedule's Schedule::scratchBlocks.
inline int scratchBlocksUsed(std::span<const Step> steps) {
  int used = 0;
  for (const Step& step : steps) {
    if (step.src.buffer == BufferId::Scratch) used = std::max(used, step.src.block + 1);
    if (step.dst.buffer == BufferId::Scratch) used = std::max(used, step.dst.block + 1);
  }
  return used;
}

}  // namespace prism
