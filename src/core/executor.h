// The one executor: runs any schedule, for any algorithm, over any transport.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "algorithms/schedule.h"
#include "base/dtype.h"
#include "src/core/block_layout.h"
#include "src/core/op_tag.h"
#include "src/core/reduction.h"

namespace prism {

class RecvConnection;
class SendConnection;
class Transport;

/// A schedule bound to this rank's buffers for one call: the steps, where their blocks
/// are, and how many rounds slice the blocks to fit the transport's buffering.
struct Program {
  std::span<const Step> steps;
  BufferLayout input;
  BufferLayout output;
  /// The communicator's scratch memory, cut like the input (block_layout.h); empty when
  /// the schedule uses none on this rank.
  BufferLayout scratch;
  size_t roundElems = 1;
  size_t rounds = 0;
  DataType type = DataType::Uint8;
  Reduction reduction;  ///< scalar already resolved
  int nranks = 1;       ///< divisor of ncclAvg
  /// Schedule rank -> transport rank; empty for the identity.
  std::span<const int> members;
  const char* what = "";  ///< e.g. "AllReduce/ring", for error messages
  /// The operation this program runs; every message it sends carries `tag`, and every
  /// message it receives must (Communicator::stamp sets both before each run).
  OpFingerprint fingerprint;
  uint64_t tag = 0;
  /// Operation::serves: where stamping takes the fingerprint from, number included.
  const OpFingerprint* serves = nullptr;
  /// Messages with another tag are left-overs of operations that failed (a shrink after a
  /// peer's death): dropped instead of reported as a mismatch.
  bool skipStale = false;
};

/// Programs that run one after another. The cursor says where the stream stands.
struct Stream {
  std::vector<Program> programs;
  size_t program = 0;
  size_t round = 0;
  size_t step = 0;
  size_t sent = 0;      ///< bytes of the current step already sent
  size_t received = 0;  ///< bytes of the current step already received
  bool hinted = false;  ///< the current step told its transport where its bytes belong
  bool done() const { return program == programs.size(); }
  /// Empties the stream for reuse, keeping its storage.
  void reset() {
    programs.clear();
    program = round = step = sent = received = 0;
    hinted = false;
  }
};

/// A whole group's work on one communicator. The streams of a phase progress together
/// (point-to-point traffic to different peers); phases run in order (one per collective).
struct Plan {
  std::vector<std::vector<Stream>> phases;
  std::vector<Step> ownedSteps;  ///< steps of point-to-point programs
  size_t phase = 0;
  /// Connections that sent from the caller's memory (SendConnection::commitFrom): the plan
  /// ends only once those sends have left it, so the call never returns while a transport
  /// still reads the caller's buffers.
  std::vector<SendConnection*> borrowed;
  /// Every step ran; borrowed sends may still be in flight.
  bool stepsDone() const { return phase == phases.size(); }
  bool done() const { return stepsDone() && borrowed.empty(); }
  void clear();
  /// Moves every cursor back to the start, to run the same plan again.
  Plan& rewind();
  /// Appends a phase of one empty stream. Storage of earlier plans is reused, so a call
  /// that builds the same shape of plan as the last one allocates nothing.
  Stream& addSingleStreamPhase();

 private:
  std::vector<std::vector<Stream>> spare_;
};

class Executor {
 public:
  explicit Executor(Transport* transport) : transport_(transport) {}
  /// Moves `plan` forward as far as it can without waiting. True if anything moved.
  bool progress(Plan& plan);
  /// Where the plan is stuck: operation, step and peer (for timeout errors).
  std::string describeWait(const Plan& plan) const;
  /// The program the plan waits in (the first unfinished one of its phase), or null.
  static const Program* currentProgram(const Plan& plan);
  /// Appends to `peers` the transport ranks the plan's current steps receive from or
  /// send to: the ranks it may be waiting on.
  static void waitedPeers(const Plan& plan, std::vector<int>& peers);
  /// Bytes of messages this executor sent from, or received into, transport slots: every
  /// byte that was not moved zero-copy (kCapZeroCopy) between the caller's buffers.
  uint64_t stagedBytes() const { return staged_; }

 private:
  bool progressStream(Plan& plan, Stream& stream);
  /// Advances one step; true when it completed. `moved` is set if any byte moved.
  bool runStep(Plan& plan, Stream& stream, const Program& program, const Step& step, bool& moved);
  /// The transport rank of schedule rank `scheduleRank` in `program`.
  static int peerOf(const Program& program, int scheduleRank);
  /// A message from transport rank `peer` whose tag is not the program's: dropped where
  /// the program skips stale messages, else a mismatch (failMismatch throws).
  void discardOrFail(const Program& program, RecvConnection& in, int peer);

  /// Sends `bytes` at `from` as the acquired slot's message: straight from the caller's
  /// memory where `borrow` allows and the transport can, else copied into `slot`.
  void send(Plan& plan, SendConnection& out, std::span<std::byte> slot, const std::byte* from,
            size_t bytes, bool borrow, const Program& program);
  /// Tries to send `bytes` at `from` straight from the caller's memory; records the
  /// connection in the plan when it did.
  bool sendBorrowed(Plan& plan, SendConnection& out, const std::byte* from, size_t bytes,
                    const Program& program);

  Transport* transport_;
  uint64_t staged_ = 0;
};

}  // namespace prism
