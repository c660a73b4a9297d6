// Private to the verifier: what schedule.h's rules say about one collective, as functions.
#pragma once

#include <string>

#include "algorithms/schedule.h"
#include "algorithms/verifier_value.h"

namespace prism::verify {

/// False for the buffers NCCL lets a rank pass as NULL: non-root input in Broadcast and
/// Scatter, non-root output in Reduce and Gather. Scratch is always owned.
bool ownsBuffer(const Schedule& s, int rank, BufferId buffer);

/// In place, the input block that output block `outputBlock` of `rank` shares memory with,
/// or -1 where it has its own memory.
int aliasedInputBlock(const Schedule& s, int rank, int outputBlock);

/// What output block `block` of `rank` must hold when the collective is done.
Value expectedOutput(const Schedule& s, int rank, int block);

/// Checks the shape: rank count, root, one step list per rank, block counts (scratch: not
/// negative, and at most inputBlocks where the count is split). Returns the problem, or ""
/// when there is none.
std::string checkLayout(const Schedule& s);

/// Checks one step on its own: peers valid, distinct from `rank` and -1 where unused;
/// blocks in range; Wire only as the dst of a forwarding step; no writes to the input (the
/// user's send buffer is const); no buffer the rank does not own; reductions and finalize
/// only where the collective reduces. Returns the problem, or "".
std::string checkStep(const Schedule& s, int rank, const Step& step);

/// Whether the step reads `src` / writes `dst` (the other field is ignored).
bool readsSrc(StepKind k);
bool writesDst(StepKind k);

/// "Output block 3", "Wire", ...
std::string describeBlock(BlockRef ref);

}  // namespace prism::verify
