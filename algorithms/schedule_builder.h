// Private helpers the generators share: step constructors that fill only the fields a step
// kind uses (the verifier rejects stray peers), and the schedule skeleton.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "algorithms/schedule.h"

namespace prism::build {

/// a mod n in [0, n), also for negative a.
inline int mod(int a, int n) { return ((a % n) + n) % n; }

/// Largest power of two <= v (v >= 1).
inline int largestPowerOfTwoAtMost(int v) {
  int p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}

inline BlockRef in(int block) { return {BufferId::Input, block}; }
inline BlockRef out(int block) { return {BufferId::Output, block}; }
inline BlockRef wire() { return {BufferId::Wire, 0}; }
/// Scratch block `block`; the generator must raise Schedule::scratchBlocks to cover it.
inline BlockRef scratch(int block) { return {BufferId::Scratch, block}; }

inline Step copy(BlockRef src, BlockRef dst, bool finalize = false) {
  return {StepKind::Copy, -1, -1, src, dst, finalize};
}
inline Step send(int to, BlockRef src) { return {StepKind::Send, to, -1, src, {}, false}; }
inline Step recv(int from, BlockRef dst) { return {StepKind::Recv, -1, from, {}, dst, false}; }
inline Step recvReduce(int from, BlockRef src, BlockRef dst, bool finalize = false) {
  return {StepKind::RecvReduce, -1, from, src, dst, finalize};
}
inline Step recvSend(int from, int to, BlockRef dst) {
  return {StepKind::RecvSend, to, from, {}, dst, false};
}
inline Step recvReduceSend(int from, int to, BlockRef src, BlockRef dst, bool finalize = false) {
  return {StepKind::RecvReduceSend, to, from, src, dst, finalize};
}
inline Step sendRecv(int peer, BlockRef src, BlockRef dst) {
  return {StepKind::SendRecv, peer, peer, src, dst, false};
}
inline Step sendRecvReduce(int peer, BlockRef src, BlockRef dst, bool finalize = false) {
  return {StepKind::SendRecvReduce, peer, peer, src, dst, finalize};
}

/// An empty schedule for `request` with one (empty) step list per rank. Throws
/// prism::Error for nranks < 1 or a root out of range.
Schedule makeSchedule(const ScheduleRequest& request, const char* algorithm, int inputBlocks,
                      int outputBlocks);

/// The block counts BlockLayout prescribes for collectives whose blocks are rank shares
/// (AllGather, ReduceScatter, AllToAll, Gather, Scatter); {1, 1} for the others.
struct BlockCounts {
  int input = 1;
  int output = 1;
};
BlockCounts shareBlocks(Collective c, int nranks);

/// Throws prism::Error naming `algorithm` and the collective: the generator cannot build it.
[[noreturn]] void throwUnsupported(const char* algorithm, Collective c);

// --- Composition: building a schedule out of sub-schedules over subsets of the ranks. ---

/// Where block `ref` of sub-schedule rank `subRank` lives in the schedule being built: one
/// global block per copy of the sub-schedule (see appendSubSchedule).
using BlockMapper = std::function<std::vector<BlockRef>(int subRank, BlockRef ref)>;

/// The steps of `sub`'s rank `subRank`, translated: peers through `members` (sub rank ->
/// global rank), blocks to element `copy` of what `mapper` returns (Wire stays Wire).
/// Copies that become self-copies without a finalize are dropped; finalize flags survive
/// only with `keepFinalize` (a stage that does not complete the result must not apply the
/// final transform). `sub` must use no scratch (throws otherwise: no composer maps scratch
/// blocks yet).
std::vector<Step> remapSteps(const Schedule& sub, int subRank, std::span<const int> members,
                             const BlockMapper& mapper, bool keepFinalize, int copy = 0);

/// Appends `copies` translated runs of `sub` to the step lists of its global ranks, run c
/// on element c of every mapped block list. Whole runs follow one another, rather than
/// each step being repeated in place: a sub-schedule is proved under the flow control
/// model, and k messages where it sends one could overfill a link it relies on.
void appendSubSchedule(Schedule& global, const Schedule& sub, std::span<const int> members,
                       const BlockMapper& mapper, bool keepFinalize, int copies = 1);

/// Sends to one peer and receives from another (or the same) in matching order, keeping
/// up to kFlowWindow sends ahead of the receives: the flow control model buffers two
/// messages per link, so the second message of a level leaves without waiting for the
/// first one's partner message, which halves the chain of dependent messages a level adds
/// compared with strict send/receive alternation.
inline constexpr size_t kFlowWindow = 2;
std::vector<Step> windowed(const std::vector<Step>& sends, const std::vector<Step>& recvs);

/// a[0], b[0], a[1], b[1], ..., then the rest of the longer list: two independent step
/// streams (e.g. rings running in opposite directions) progressing in every round.
std::vector<Step> interleave(const std::vector<Step>& a, const std::vector<Step>& b);

}  // namespace prism::build
