// Hand-written schedules for verifier and simulator tests: a step from its parts, block
// references, and an empty two-rank schedule to fill in.
#pragma once

#include "algorithms/schedule.h"

namespace prism::test {

inline constexpr BlockRef in0{BufferId::Input, 0};
inline constexpr BlockRef in1{BufferId::Input, 1};
inline constexpr BlockRef out0{BufferId::Output, 0};
inline constexpr BlockRef out1{BufferId::Output, 1};
inline constexpr BlockRef wireRef{BufferId::Wire, 0};
inline constexpr BlockRef scratch0{BufferId::Scratch, 0};
inline constexpr BlockRef scratch1{BufferId::Scratch, 1};

inline Step make(StepKind k, int sendPeer, int recvPeer, BlockRef src, BlockRef dst,
                 bool finalize = false) {
  return {k, sendPeer, recvPeer, src, dst, finalize};
}

/// Two ranks with no steps yet, named "handmade".
inline Schedule twoRanks(Collective c, int inputBlocks, int outputBlocks, int scratchBlocks = 0) {
  Schedule s;
  s.collective = c;
  s.nranks = 2;
  s.algorithm = "handmade";
  s.inputBlocks = inputBlocks;
  s.outputBlocks = outputBlocks;
  s.scratchBlocks = scratchBlocks;
  s.steps.resize(2);
  return s;
}

}  // namespace prism::test
