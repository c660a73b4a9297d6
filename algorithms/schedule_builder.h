// Private helpers the generators share: step constructors that fill only the fields a step
// kind uses (the verifier rejects stray peers), and the schedule skeleton.
#pragma once

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

}  // namespace prism::build
