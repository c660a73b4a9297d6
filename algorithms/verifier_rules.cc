#include "algorithms/verifier_rules.h"

#include "algorithms/schedule_builder.h"

namespace prism::verify {
namespace {

std::string checkPeer(const char* role, int peer, bool used, int rank, int nranks) {
  if (!used) {
    return peer == -1 ? "" : std::string(role) + " is set on a step that does not use it";
  }
  if (peer < 0 || peer >= nranks) return std::string(role) + " out of range";
  if (peer == rank) return std::string(role) + " is the rank itself";
  return "";
}

std::string checkBlock(const Schedule& s, int rank, BlockRef ref, bool isDst, StepKind k) {
  if (ref.buffer == BufferId::Wire) {
    if (isDst && (k == StepKind::RecvSend || k == StepKind::RecvReduceSend)) return "";
    return std::string("Wire as ") + (isDst ? "dst" : "src") + " of " + stepKindName(k);
  }
  const int blocks = ref.buffer == BufferId::Input    ? s.inputBlocks
                     : ref.buffer == BufferId::Output ? s.outputBlocks
                                                      : s.scratchBlocks;
  if (ref.block < 0 || ref.block >= blocks) return describeBlock(ref) + " out of range";
  if (!ownsBuffer(s, rank, ref.buffer)) {
    return "touches " + describeBlock(ref) + ", which this rank does not own (may be NULL)";
  }
  if (isDst && ref.buffer == BufferId::Input) {
    return "writes " + describeBlock(ref) + " (the send buffer is const)";
  }
  return "";
}

}  // namespace

bool readsSrc(StepKind k) { return k != StepKind::Recv && k != StepKind::RecvSend; }
bool writesDst(StepKind k) { return k != StepKind::Send; }

std::string describeBlock(BlockRef ref) {
  switch (ref.buffer) {
    case BufferId::Input:
      return "Input block " + std::to_string(ref.block);
    case BufferId::Output:
      return "Output block " + std::to_string(ref.block);
    case BufferId::Wire:
      return "Wire";
    case BufferId::Scratch:
      return "Scratch block " + std::to_string(ref.block);
  }
  return "?";
}

bool ownsBuffer(const Schedule& s, int rank, BufferId buffer) {
  if (buffer == BufferId::Scratch) return true;  // the communicator's, never the caller's
  // An aggregator contributes nothing; its output blocks are its scratch memory.
  if (rank >= s.nranks) return buffer == BufferId::Output;
  if (rank == s.root) return true;
  switch (s.collective) {
    case Collective::Broadcast:
    case Collective::Scatter:
      return buffer != BufferId::Input;
    case Collective::Reduce:
    case Collective::Gather:
      return buffer != BufferId::Output;
    default:
      return true;
  }
}

int aliasedInputBlock(const Schedule& s, int rank, int outputBlock) {
  switch (s.collective) {
    case Collective::AllReduce:
    case Collective::Reduce:
    case Collective::Broadcast:
    case Collective::AllToAll:
      return outputBlock < s.inputBlocks ? outputBlock : -1;
    case Collective::AllGather:
      return outputBlock == rank ? 0 : -1;
    case Collective::Gather:
      return rank == s.root && outputBlock == rank ? 0 : -1;
    case Collective::ReduceScatter:
      return outputBlock == 0 ? rank : -1;
    case Collective::Scatter:
      return rank == s.root && outputBlock == 0 ? rank : -1;
  }
  return -1;
}

Value expectedOutput(const Schedule& s, int rank, int block) {
  const int n = s.nranks;
  Value v;
  switch (s.collective) {
    case Collective::AllReduce:
    case Collective::Reduce:
      v = Value::everyone(block, n);
      break;
    case Collective::ReduceScatter:
      v = Value::everyone(rank, n);
      break;
    case Collective::Broadcast:
      return Value::single(s.root, block, n);
    case Collective::AllGather:
    case Collective::Gather:
      return Value::single(block, 0, n);
    case Collective::AllToAll:
      return Value::single(block, rank, n);
    case Collective::Scatter:
      return Value::single(s.root, rank, n);
  }
  v.finalize();
  return v;
}

std::string checkLayout(const Schedule& s) {
  if (s.nranks < 1) return "nranks must be at least 1";
  if (s.aggregators < 0) return "aggregators must not be negative";
  if (static_cast<int>(s.steps.size()) != s.nranks + s.aggregators) {
    return "one step list per rank and aggregator required";
  }
  if (isRooted(s.collective) && (s.root < 0 || s.root >= s.nranks)) return "root out of range";
  if (s.inputBlocks < 1 || s.outputBlocks < 1) return "block counts must be positive";
  if (s.scratchBlocks < 0) return "scratch block count must not be negative";
  const build::BlockCounts shares = build::shareBlocks(s.collective, s.nranks);
  const bool chosen = s.collective == Collective::AllReduce || s.collective == Collective::Reduce ||
                      s.collective == Collective::Broadcast;
  if (chosen && s.scratchBlocks > s.inputBlocks) {
    return "more scratch blocks than input blocks where the count is split (scratch block b "
           "has input block b's size)";
  }
  if (chosen && s.inputBlocks != s.outputBlocks) {
    return "input and output must have the same block count (they alias in place)";
  }
  if (!chosen && (s.inputBlocks != shares.input || s.outputBlocks != shares.output)) {
    return "block counts " + std::to_string(s.inputBlocks) + "/" + std::to_string(s.outputBlocks) +
           " differ from the layout's " + std::to_string(shares.input) + "/" +
           std::to_string(shares.output);
  }
  return "";
}

std::string checkStep(const Schedule& s, int rank, const Step& step) {
  const StepKind k = step.kind;
  const int participants = s.nranks + s.aggregators;
  std::string problem = checkPeer("sendPeer", step.sendPeer, stepSends(k), rank, participants);
  if (problem.empty()) {
    problem = checkPeer("recvPeer", step.recvPeer, stepReceives(k), rank, participants);
  }
  if (problem.empty() && readsSrc(k)) problem = checkBlock(s, rank, step.src, false, k);
  if (problem.empty() && writesDst(k)) problem = checkBlock(s, rank, step.dst, true, k);
  if (!problem.empty()) return problem;
  if (stepReduces(k) && !isReduction(s.collective)) {
    return std::string("reduces in ") + collectiveName(s.collective);
  }
  if (step.finalize && !writesDst(k)) return "finalize on a step that writes nothing";
  if (step.finalize && !isReduction(s.collective)) {
    return std::string("finalize in ") + collectiveName(s.collective);
  }
  return "";
}

}  // namespace prism::verify
