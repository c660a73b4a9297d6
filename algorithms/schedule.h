// A Schedule is an algorithm written down as data: for every rank, an ordered list of
// steps over blocks of the input and output buffers. The executor runs it, the verifier
// proves it, and the simulator times it; none of them knows which algorithm made it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/collective.h"

namespace prism {

/// Input and Output are the user's buffers. Wire is "not stored": a RecvSend or
/// RecvReduceSend whose dst is Wire forwards its result without keeping it (the executor
/// writes it straight into the outgoing message). Wire is valid nowhere else.
///
/// Scratch is memory of the rank's own (the communicator's, reused across calls), for what
/// a rank must keep that belongs in no buffer it owns: partial sums of other ranks' blocks
/// (PAT ReduceScatter), a subtree's shares at a relay (binomial Gather, Scatter). A
/// schedule declares how many blocks it uses (Schedule::scratchBlocks); every rank may
/// read and write them. Scratch starts undefined on every call (read before written is an
/// error), aliases nothing in place, and never holds a result: only Output is checked.
///
/// Buffers a rank does not own under NCCL's rules may be NULL and must not be touched:
/// the input of non-root ranks in Broadcast and Scatter, the output of non-root ranks in
/// Reduce and Gather.
///
/// Every schedule must be correct both out of place and in place. In place, blocks alias:
/// AllReduce, Reduce, Broadcast, AllToAll: input block b is output block b;
/// AllGather and Gather (root): input block 0 is output block `rank`;
/// ReduceScatter and Scatter (root): output block 0 is input block `rank`.
/// Schedules therefore read each input block before they overwrite its output alias.
enum class BufferId : uint8_t { Input, Output, Wire, Scratch };

/// One block of a rank's input, output or scratch buffer. How many blocks a buffer has, and
/// which elements a block covers, is fixed by BlockLayout (executor) for the schedule's
/// collective and the block counts the generator chose.
struct BlockRef {
  BufferId buffer = BufferId::Input;
  int32_t block = 0;
  friend bool operator==(const BlockRef&, const BlockRef&) = default;
};

/// What one step does. "incoming" is the message received from recvPeer; "(op)" is the
/// collective's reduction. Parts that send and receive progress together, slice by slice:
///  - in fused steps (RecvSend, RecvReduceSend) slice i is forwarded after it is received;
///  - in SendRecv/SendRecvReduce slice i is sent before slice i is received, so src and dst
///    may be the same block (in-place exchanges are safe).
enum class StepKind : uint8_t {
  Copy,            ///< dst = src (local, no peer)
  Send,            ///< send src to sendPeer
  Recv,            ///< dst = incoming
  RecvReduce,      ///< dst = src (op) incoming
  RecvSend,        ///< dst = incoming; forward dst to sendPeer
  RecvReduceSend,  ///< dst = src (op) incoming; forward dst to sendPeer
  SendRecv,        ///< send src to sendPeer; dst = incoming
  SendRecvReduce,  ///< send src to sendPeer; dst = src (op) incoming
};

const char* stepKindName(StepKind k);
bool stepSends(StepKind k);
bool stepReceives(StepKind k);
bool stepReduces(StepKind k);

struct Step {
  StepKind kind = StepKind::Copy;
  int32_t sendPeer = -1;  ///< rank the step sends to, or -1
  int32_t recvPeer = -1;  ///< rank the step receives from, or -1
  BlockRef src;           ///< read by Copy, Send, *Reduce*, SendRecv*
  BlockRef dst;           ///< written by Copy, Recv*, *Reduce*, SendRecv*
  /// Set on the reduction that completes a result: the executor applies the op's final
  /// transform (ncclAvg's divide) to what this step writes, exactly once per result.
  bool finalize = false;
  friend bool operator==(const Step&, const Step&) = default;
};

/// The input of a generator. Algorithms are pure functions of this; they do no I/O.
/// A constructor rather than an aggregate, so that callers may leave the trailing fields
/// out (`{collective, nranks, root}`) without missing-initializer warnings.
struct ScheduleRequest {
  ScheduleRequest(Collective collective = Collective::AllReduce, int nranks = 1, int root = 0,
                  std::vector<int> groupOf = {})
      : collective(collective), nranks(nranks), root(root), groupOf(std::move(groupOf)) {}

  Collective collective;
  int nranks;
  int root;  ///< for Broadcast, Reduce, Gather, Scatter
  /// Topology group (e.g. host) of every rank, indexed by rank; empty means one group.
  /// Only topology-aware generators ("hierarchical") read it.
  std::vector<int> groupOf;
};

struct Schedule {
  Collective collective = Collective::AllReduce;
  int nranks = 1;
  int root = 0;
  std::string algorithm;  ///< generator name, for logs and tuning output
  /// How many equal blocks the generator cut each buffer into. For AllReduce, Reduce and
  /// Broadcast the generator chooses (the count is split into that many blocks). For the
  /// other collectives one block is one rank's share (`count` elements) and these must be
  /// what BlockLayout prescribes: AllGather 1/n, ReduceScatter n/1, AllToAll n/n,
  /// Gather 1/n, Scatter n/1 (input/output).
  int inputBlocks = 1;
  int outputBlocks = 1;
  /// Scratch blocks a rank may use (BufferId::Scratch, indices 0 .. scratchBlocks-1); 0 for
  /// schedules that need none, which then cost no memory. A scratch block has the size of
  /// an input block: one rank's share (`count` elements) where blocks are shares; where the
  /// count is split (AllReduce, Reduce, Broadcast) scratch block b covers as many elements
  /// as input block b (the last one may be short), so it may hold only data of block b and
  /// scratchBlocks <= inputBlocks. The executor allocates per rank only the blocks that
  /// rank's steps name.
  int scratchBlocks = 0;
  /// Aggregation points in the fabric (in-network reduction, e.g. prism-innet): extra
  /// participants nranks .. nranks+aggregators-1 with step lists of their own, peers of
  /// the ranks. They contribute nothing (no input) and their output is scratch, never
  /// checked; the executor cannot run such a schedule (the verifier and simulator can).
  int aggregators = 0;
  std::vector<std::vector<Step>> steps;  ///< steps[participant] in execution order
};

/// Flow control model. The executor runs a schedule once per round, on a slice of every
/// block that fits the transport's buffering, and runs a rank's steps in order. Between
/// any two ranks each direction buffers at least two messages, where a message is what one
/// step sends. A schedule must complete under that model; the verifier checks it.
///
/// A schedule generator: a pure function from request to schedule.
using ScheduleGenerator = Schedule (*)(const ScheduleRequest&);

}  // namespace prism
