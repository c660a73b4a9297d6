// The symbolic verifier. Every rank's buffers hold Values (sets of contributions); the
// schedule runs on them exactly as the executor would run it on numbers.
//
// Flow control model (schedule.h): each directed pair of ranks is a FIFO of exactly
// kFifoCapacity messages, a message being what one step sends. A rank runs its steps in
// order, and a step runs when what it needs is there:
//  - Send needs a free slot towards sendPeer; Recv and RecvReduce need a message from
//    recvPeer; Copy always runs.
//  - Fused steps (RecvSend, RecvReduceSend) forward slice i after receiving it, so they need
//    the incoming message and a free outgoing slot at the same time.
//  - SendRecv and SendRecvReduce send slice i before receiving slice i, so they run in two
//    halves: the send (needs a free slot; it carries src as it was before the step), then
//    the receive (needs the incoming message). This lets two ranks exchange with each other.
// Whether a step can run only grows while other ranks run (only its owner drains its inbox
// and only the receiver frees its outbox), so the order in which ranks are advanced does
// not matter: advancing any runnable rank until none is left either finishes every rank or
// finds a real deadlock.
#include "algorithms/verifier.h"

#include <array>

#include "algorithms/verifier_rules.h"
#include "algorithms/verifier_value.h"

namespace prism {
namespace {

using verify::Value;

constexpr int kFifoCapacity = 2;

/// The first problem found; thrown inside the simulation, caught by verifySchedule.
struct Failure {
  std::string message;
};

struct Message {
  Value value;
  size_t step = 0;  ///< index of the sending step, for error messages
};

/// A bounded FIFO of messages from one rank to another.
class Fifo {
 public:
  bool full() const { return size_ == kFifoCapacity; }
  bool empty() const { return size_ == 0; }
  const Message& front() const { return slots_[head_]; }
  void push(Message m) { slots_[(head_ + size_++) % kFifoCapacity] = std::move(m); }
  Message pop() {
    Message m = std::move(slots_[head_]);
    head_ = (head_ + 1) % kFifoCapacity;
    --size_;
    return m;
  }

 private:
  std::array<Message, kFifoCapacity> slots_;
  int head_ = 0;
  int size_ = 0;
};

std::string stepName(int rank, size_t index, const Step& step) {
  std::string text = "rank " + std::to_string(rank) + " step " + std::to_string(index) + " (" +
                     stepKindName(step.kind);
  if (step.recvPeer >= 0) text += " from " + std::to_string(step.recvPeer);
  if (step.sendPeer >= 0) text += " to " + std::to_string(step.sendPeer);
  return text + ")";
}

class Simulation {
 public:
  Simulation(const Schedule& s, bool inPlace)
      : s_(s),
        n_(s.nranks),
        p_(s.nranks + s.aggregators),
        cells_(p_),
        outputCell_(p_),
        pc_(p_, 0),
        sendDone_(p_, false),
        fifos_(static_cast<size_t>(p_) * p_) {
    for (int r = 0; r < p_; ++r) {
      // Aggregators (r >= n_) have no contribution: their input blocks are never set.
      for (int b = 0; b < s.inputBlocks; ++b) {
        cells_[r].push_back(r < n_ ? Value::single(r, b, n_) : Value());
      }
      for (int b = 0; b < s.outputBlocks; ++b) {
        const int alias = inPlace && r < n_ ? verify::aliasedInputBlock(s, r, b) : -1;
        outputCell_[r].push_back(alias >= 0 ? alias : static_cast<int>(cells_[r].size()));
        if (alias < 0) cells_[r].emplace_back();
      }
      // Scratch: cells of their own (it aliases nothing), undefined until written.
      scratchCell_.push_back(static_cast<int>(cells_[r].size()));
      cells_[r].resize(cells_[r].size() + static_cast<size_t>(s.scratchBlocks));
    }
  }

  void checkSteps() const {
    for (int r = 0; r < p_; ++r) {
      for (size_t i = 0; i < s_.steps[r].size(); ++i) {
        const std::string problem = verify::checkStep(s_, r, s_.steps[r][i]);
        if (!problem.empty()) throw Failure{stepName(r, i, s_.steps[r][i]) + ": " + problem};
      }
    }
  }

  void run() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (int r = 0; r < p_; ++r) {
        while (advance(r)) progress = true;
      }
    }
    std::string stuck;
    int shown = 0;
    for (int r = 0; r < p_ && shown < 4; ++r) {
      if (pc_[r] == s_.steps[r].size()) continue;
      const Step& step = s_.steps[r][pc_[r]];
      stuck += (shown++ ? "; " : "") + stepName(r, pc_[r], step) + " waits for " + waitsFor(r);
    }
    if (!stuck.empty()) throw Failure{"deadlock: " + stuck};
  }

  void checkResults() const {
    for (int from = 0; from < p_; ++from) {
      for (int to = 0; to < p_; ++to) {
        const Fifo& f = fifo(from, to);
        if (!f.empty()) {
          throw Failure{
              "unmatched send: " + stepName(from, f.front().step, s_.steps[from][f.front().step]) +
              " is never received by rank " + std::to_string(to)};
        }
      }
    }
    for (int r = 0; r < n_; ++r) {
      if (!verify::ownsBuffer(s_, r, BufferId::Output)) continue;
      for (int b = 0; b < s_.outputBlocks; ++b) {
        const Value& got = cells_[r][outputCell_[r][b]];
        const Value want = verify::expectedOutput(s_, r, b);
        if (!(got == want)) {
          throw Failure{"rank " + std::to_string(r) + " Output block " + std::to_string(b) +
                        " holds " + got.describe() + ", expected " + want.describe()};
        }
      }
    }
  }

 private:
  Fifo& fifo(int from, int to) { return fifos_[static_cast<size_t>(from) * p_ + to]; }
  const Fifo& fifo(int from, int to) const { return fifos_[static_cast<size_t>(from) * p_ + to]; }

  int cellIndex(int rank, BlockRef ref) const {
    switch (ref.buffer) {
      case BufferId::Input:
        return ref.block;
      case BufferId::Scratch:
        return scratchCell_[rank] + ref.block;
      default:
        return outputCell_[rank][ref.block];
    }
  }

  const Value& read(int rank, BlockRef ref) const {
    const Value& v = cells_[rank][cellIndex(rank, ref)];
    if (!v.defined()) throw Failure{"reads " + verify::describeBlock(ref) + " before it is set"};
    return v;
  }

  void write(int rank, BlockRef ref, const Value& v) {
    if (ref.buffer == BufferId::Wire) return;
    // Where the count is split, scratch block b is as long as input block b (schedule.h).
    if (ref.buffer == BufferId::Scratch && !sharesBlocks_ && v.block() != ref.block) {
      throw Failure{"writes " + v.describe() + " into " + verify::describeBlock(ref) +
                    ", which has input block " + std::to_string(ref.block) + "'s size"};
    }
    cells_[rank][cellIndex(rank, ref)] = v;
  }

  Value reduce(const Value& mine, const Value& incoming) const {
    if (mine.finalized() || incoming.finalized()) {
      throw Failure{"reduces a finalized value: " +
                    (mine.finalized() ? mine : incoming).describe()};
    }
    if (mine.block() != incoming.block()) {
      throw Failure{"combines different blocks: " + mine.describe() + " and " +
                    incoming.describe()};
    }
    if (mine.firstCommonRank(incoming) >= 0) {
      throw Failure{"counts rank " + std::to_string(mine.firstCommonRank(incoming)) +
                    " twice: " + mine.describe() + " and " + incoming.describe()};
    }
    Value sum = mine;
    sum.unite(incoming);
    return sum;
  }

  void applyFinalize(const Step& step, Value& v) const {
    if (!step.finalize) return;
    if (v.finalized()) throw Failure{"applies the final transform twice to " + v.describe()};
    if (v.count() != n_) throw Failure{"finalizes an incomplete result " + v.describe()};
    v.finalize();
  }

  std::string waitsFor(int r) const {
    const Step& step = s_.steps[r][pc_[r]];
    const bool splitSend = step.kind == StepKind::SendRecv || step.kind == StepKind::SendRecvReduce;
    const bool sendFirst = step.kind == StepKind::Send || (splitSend && !sendDone_[r]);
    if (!sendFirst && fifo(step.recvPeer, r).empty()) {
      return "a message from rank " + std::to_string(step.recvPeer);
    }
    return "space towards rank " + std::to_string(step.sendPeer);
  }

  /// Runs as much of rank r's next step as can run; true if anything happened.
  bool advance(int r) {
    if (pc_[r] == s_.steps[r].size()) return false;
    const Step& step = s_.steps[r][pc_[r]];
    try {
      return runStep(r, step);
    } catch (Failure& f) {
      f.message = stepName(r, pc_[r], step) + ": " + f.message;
      throw;
    }
  }

  bool runStep(int r, const Step& step) {
    const StepKind k = step.kind;
    const bool splitSend = k == StepKind::SendRecv || k == StepKind::SendRecvReduce;
    if (k == StepKind::Send || (splitSend && !sendDone_[r])) {
      if (fifo(r, step.sendPeer).full()) return false;
      fifo(r, step.sendPeer).push({read(r, step.src), pc_[r]});
      if (k == StepKind::Send) return finishStep(r);
      sendDone_[r] = true;
      if (fifo(step.recvPeer, r).empty()) return true;  // the send half ran
    }
    if (k == StepKind::Copy) {
      Value v = read(r, step.src);
      applyFinalize(step, v);
      write(r, step.dst, v);
      return finishStep(r);
    }
    const bool forwards = k == StepKind::RecvSend || k == StepKind::RecvReduceSend;
    if (fifo(step.recvPeer, r).empty()) return false;
    if (forwards && fifo(r, step.sendPeer).full()) return false;
    Message incoming = fifo(step.recvPeer, r).pop();
    Value v = stepReduces(k) ? reduce(read(r, step.src), incoming.value) : incoming.value;
    applyFinalize(step, v);
    write(r, step.dst, v);
    if (forwards) fifo(r, step.sendPeer).push({std::move(v), pc_[r]});
    return finishStep(r);
  }

  bool finishStep(int r) {
    sendDone_[r] = false;
    ++pc_[r];
    return true;
  }

  const Schedule& s_;
  const int n_;  ///< ranks: they contribute and their outputs are checked
  const int p_;  ///< participants: ranks, then aggregators
  /// Whether a block is one rank's share (all blocks equally long), not a piece of a split
  /// count.
  const bool sharesBlocks_ = s_.collective != Collective::AllReduce &&
                             s_.collective != Collective::Reduce &&
                             s_.collective != Collective::Broadcast;
  std::vector<std::vector<Value>> cells_;     ///< per rank: input blocks, own outputs, scratch
  std::vector<std::vector<int>> outputCell_;  ///< per rank: output block -> cell
  std::vector<int> scratchCell_;              ///< per rank: cell of scratch block 0
  std::vector<size_t> pc_;                    ///< per rank: next step
  std::vector<bool> sendDone_;                ///< per rank: send half of SendRecv* ran
  std::vector<Fifo> fifos_;                   ///< [from * p + to]
};

}  // namespace

VerifyResult verifySchedule(const Schedule& schedule, bool inPlace) {
  const std::string layout = verify::checkLayout(schedule);
  if (!layout.empty()) return {false, schedule.algorithm + ": " + layout};
  try {
    Simulation sim(schedule, inPlace);
    sim.checkSteps();
    sim.run();
    sim.checkResults();
  } catch (const Failure& f) {
    return {false, schedule.algorithm + " " + collectiveName(schedule.collective) + " n=" +
                       std::to_string(schedule.nranks) + " root=" + std::to_string(schedule.root) +
                       (inPlace ? " in place: " : ": ") + f.message};
  }
  return {};
}

}  // namespace prism
