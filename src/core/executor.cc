#include "src/core/executor.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "kernels/host/copy.h"
#include "kernels/host/reduce.h"
#include "src/core/mismatch.h"
#include "transports/transport.h"

namespace prism {

namespace {

const BufferLayout& layoutOf(const Program& program, BufferId buffer) {
  switch (buffer) {
    case BufferId::Input:
      return program.input;
    case BufferId::Scratch:
      return program.scratch;
    default:
      return program.output;
  }
}

/// The region a block reference covers in this round; Wire has the output's geometry but
/// no storage, so its data pointer is null.
Region regionOf(const Program& program, BlockRef ref, size_t round) {
  Region region = blockRegion(layoutOf(program, ref.buffer), ref.block, round, program.roundElems);
  if (ref.buffer == BufferId::Wire) region.data = nullptr;
  return region;
}

/// True when copies into `to` use streaming stores: it is the caller's output, too large to
/// stay in cache (scratch is read again soon; keep it).
bool streamsInto(const Program& program, BufferId to) {
  return to == BufferId::Output &&
         program.output.total * program.output.elemSize >= kernels::kStreamingCopyBytes;
}

/// Copies a received or local block into `to`, streaming where streamsInto() says so.
/// `cached` marks a destination this step has just read (an in-place exchange): its lines
/// are in cache, where plain stores hit and streaming stores would first evict them.
void store(const Program& program, BufferId to, std::byte* dst, const std::byte* src, size_t bytes,
           bool cached = false) {
  if (dst == src) return;
  if (!cached && streamsInto(program, to))
    kernels::copyStreaming(dst, src, bytes);
  else
    std::memcpy(dst, src, bytes);
}

/// True when a piece of `bytes` goes into a slot of `out` with streaming stores: the
/// connection asks for them and the piece is bulk data.
bool streamsSlot(const SendConnection& out, size_t bytes) {
  return out.streamingWrites() && bytes >= kernels::kStreamingSlotBytes;
}

/// Copies `bytes` of `src` into a slot of `out`, streaming where streamsSlot() says so.
void fill(const SendConnection& out, std::byte* slot, const std::byte* src, size_t bytes) {
  if (streamsSlot(out, bytes))
    kernels::copyStreaming(slot, src, bytes);
  else
    std::memcpy(slot, src, bytes);
}

/// True when step `index` sends an input block that the next step copies unchanged to the
/// output (ring AllGather, a ring Broadcast's root): the send then also stores each slice
/// to the output, so the input is read once, and the copy step is skipped.
bool sendCarriesNextCopy(const Program& program, size_t index, size_t round) {
  if (index + 1 >= program.steps.size()) return false;
  const Step& send = program.steps[index];
  const Step& copy = program.steps[index + 1];
  if (send.kind != StepKind::Send || copy.kind != StepKind::Copy || copy.src != send.src ||
      send.src.buffer != BufferId::Input || copy.dst.buffer != BufferId::Output ||
      program.reduction.preMultiply || (copy.finalize && program.reduction.average))
    return false;
  return regionOf(program, copy.dst, round).bytes == regionOf(program, send.src, round).bytes;
}

/// Reads `bytes` of `src` into `dst`, applying PreMulSum's scaling when `src` is the
/// caller's input (each contribution is scaled exactly once, where it is first read).
void load(const Program& program, BufferId from, std::byte* dst, const std::byte* src,
          size_t bytes) {
  if (from == BufferId::Input && program.reduction.preMultiply) {
    kernels::scale(program.type, dst, src, program.reduction.scalar.data(),
                   bytes / program.input.elemSize);
  } else if (dst != src) {
    std::memcpy(dst, src, bytes);
  }
}

/// dst = load(src) (op) incoming, then the final transform when `finalize`.
void combine(const Program& program, const Step& step, std::byte* dst, const std::byte* src,
             const std::byte* incoming, size_t bytes) {
  size_t count = bytes / program.input.elemSize;
  const Reduction& r = program.reduction;
  if (step.src.buffer == BufferId::Input && r.preMultiply) {
    kernels::scale(program.type, dst, src, r.scalar.data(), count);
    kernels::reduce(program.type, r.op, dst, dst, incoming, count);
  } else {
    kernels::reduce(program.type, r.op, dst, src, incoming, count);
  }
  if (step.finalize && r.average) kernels::divide(program.type, dst, dst, program.nranks, count);
}

bool overlaps(const Region& a, const Region& b) {
  return a.data < b.data + b.bytes && b.data < a.data + a.bytes;
}

/// Whether the program moves data without reducing it (point-to-point, or a collective
/// that only copies): every value it writes to the output is final.
bool movesDataOnly(const Program& program) {
  if (program.fingerprint.kind == kPointToPointKind) return true;
  switch (static_cast<Collective>(program.fingerprint.kind)) {
    case Collective::AllGather:
    case Collective::Broadcast:
    case Collective::Gather:
    case Collective::Scatter:
    case Collective::AllToAll:
      return true;
    default:
      return false;
  }
}

/// Whether the call's input and output overlap (in place, in any collective's sense).
bool inPlace(const Program& program) {
  const BufferLayout& in = program.input;
  const BufferLayout& out = program.output;
  if (in.base == nullptr || out.base == nullptr) return false;
  return in.base < out.base + out.total * out.elemSize &&
         out.base < in.base + in.total * in.elemSize;
}

/// Whether bytes of `from` a step sends stay unchanged for the rest of the call, so they
/// may be sent straight from there (SendConnection::commitFrom) and left in flight until
/// the call ends: the input when no step writes it (out of place); in a collective that
/// only copies, the output too, where every write is of the final value. In place AllToAll
/// overwrites blocks with other ranks' data, and PreMulSum scales what it sends: neither.
bool sendsStay(const Program& program, BufferId from) {
  if (program.reduction.preMultiply) return false;
  if (from == BufferId::Input && !inPlace(program)) return true;
  if (from != BufferId::Input && from != BufferId::Output) return false;
  if (!movesDataOnly(program)) return false;
  return !(inPlace(program) &&
           static_cast<Collective>(program.fingerprint.kind) == Collective::AllToAll &&
           program.fingerprint.kind != kPointToPointKind);
}

/// Whether a RecvSend step may forward what the transport placed in the output straight
/// from there.
bool forwardsFromOutput(const Program& program) { return sendsStay(program, BufferId::Output); }

/// Tells the transport once per step where the step's incoming bytes belong, so it may
/// receive them there rather than into slots the executor then copies out of.
void hintPlacement(Stream& s, RecvConnection& in, const Region& dst, const Program& program) {
  if (s.hinted || s.received != 0 || dst.data == nullptr) return;
  s.hinted = true;
  in.receiveInto(dst.data, dst.bytes, program.tag);
}

}  // namespace

/// Phases kept for reuse: enough for the largest group of collectives seen in practice.
constexpr size_t kSparePhases = 64;

void Plan::clear() {
  for (auto& phase : phases) {
    if (spare_.size() < kSparePhases) spare_.push_back(std::move(phase));
  }
  phases.clear();
  ownedSteps.clear();
  phase = 0;
  borrowed.clear();
}

Plan& Plan::rewind() {
  for (auto& streams : phases) {
    for (Stream& s : streams) {
      s.program = s.round = s.step = s.sent = s.received = 0;
      s.hinted = false;
    }
  }
  phase = 0;
  borrowed.clear();
  return *this;
}

Stream& Plan::addSingleStreamPhase() {
  if (spare_.empty()) {
    phases.emplace_back();
  } else {
    phases.push_back(std::move(spare_.back()));
    spare_.pop_back();
  }
  std::vector<Stream>& streams = phases.back();
  streams.resize(1);
  streams[0].reset();
  return streams[0];
}

void Executor::discardOrFail(const Program& program, RecvConnection& in, int peer) {
  if (!program.skipStale) failMismatch(*transport_, program.fingerprint, peer);
  in.release();
}

int Executor::peerOf(const Program& program, int scheduleRank) {
  return program.members.empty() ? scheduleRank : program.members[scheduleRank];
}

bool Executor::progress(Plan& plan) {
  bool moved = false;
  transport_->progress();
  while (!plan.stepsDone()) {
    bool phaseDone = true;
    for (Stream& stream : plan.phases[plan.phase]) {
      moved |= progressStream(plan, stream);
      phaseDone &= stream.done();
    }
    if (!phaseDone) break;
    ++plan.phase;
    moved = true;
  }
  if (plan.stepsDone() && !plan.borrowed.empty()) {
    std::erase_if(plan.borrowed, [](SendConnection* out) { return out->borrowedSendsDone(); });
    if (plan.borrowed.empty()) moved = true;
  }
  return moved;
}

bool Executor::progressStream(Plan& plan, Stream& stream) {
  bool moved = false;
  while (!stream.done()) {
    const Program& program = stream.programs[stream.program];
    if (stream.round < program.rounds && stream.step < program.steps.size()) {
      if (!runStep(plan, stream, program, program.steps[stream.step], moved)) return moved;
      stream.sent = stream.received = 0;
      stream.hinted = false;
      stream.step += sendCarriesNextCopy(program, stream.step, stream.round) ? 2 : 1;
      continue;
    }
    // End of a round (or a program with nothing to do): next round, then next program.
    stream.step = 0;
    if (++stream.round >= program.rounds) {
      stream.round = 0;
      ++stream.program;
    }
    moved = true;
  }
  return moved;
}

bool Executor::runStep(Plan& plan, Stream& s, const Program& program, const Step& step,
                       bool& moved) {
  Region src = regionOf(program, step.src, s.round);
  Region dst = regionOf(program, step.dst, s.round);
  const size_t slot = transport_->slotBytes();

  switch (step.kind) {
    case StepKind::Copy:
      if (dst.bytes == 0) return true;
      if (step.dst.buffer == BufferId::Output && !program.reduction.preMultiply)
        store(program, BufferId::Output, dst.data, src.data, dst.bytes);
      else
        load(program, step.src.buffer, dst.data, src.data, dst.bytes);
      if (step.finalize && program.reduction.average)
        kernels::divide(program.type, dst.data, dst.data, program.nranks,
                        dst.bytes / program.output.elemSize);
      moved = true;
      return true;

    case StepKind::RecvSend:
    case StepKind::RecvReduceSend: {
      // Forward each slice as soon as it arrives: the received slot is consumed only
      // when an outgoing slot is free, so the pipeline never buffers more than a slot.
      size_t total = step.kind == StepKind::RecvSend ? dst.bytes : src.bytes;
      if (total == 0) return true;
      RecvConnection& in = transport_->recvFrom(peerOf(program, step.recvPeer));
      SendConnection& out = transport_->sendTo(peerOf(program, step.sendPeer));
      if (step.kind == StepKind::RecvSend && dst.data != nullptr)
        hintPlacement(s, in, dst, program);
      while (s.received < total) {
        std::span<const std::byte> msg = in.peek();
        if (msg.empty()) return false;
        if (in.tag() != program.tag) [[unlikely]] {
          discardOrFail(program, in, peerOf(program, step.recvPeer));
          moved = true;
          continue;
        }
        std::span<std::byte> next = out.acquire();
        if (next.empty()) return false;
        size_t n = msg.size();
        if (s.received + n > total)
          throw Error(ncclInvalidUsage,
                      std::string(program.what) + ": message larger than expected");
        std::byte* target = dst.data ? dst.data + s.received : next.data();
        if (msg.data() != target) staged_ += n;  // it arrived in a slot
        if (step.kind == StepKind::RecvReduceSend) {
          combine(program, step, target, src.data + s.received, msg.data(), n);
          if (target != next.data()) fill(out, next.data(), target, n);
          out.commit(n, program.tag);
          staged_ += n;
        } else if (msg.data() == target && forwardsFromOutput(program)) {
          // Placed in the output by the transport, and final there: forwarded from there.
          send(plan, out, next, target, n, true, program);
        } else {
          // Forward from the slot, not from the output, which streaming stores bypass.
          if (target != next.data()) store(program, step.dst.buffer, target, msg.data(), n);
          send(plan, out, next, msg.data(), n, false, program);
        }
        in.release();
        s.received += n;
        moved = true;
      }
      return true;
    }

    default:
      break;
  }

  // Send, Recv, RecvReduce, SendRecv and SendRecvReduce: an independent send part and
  // receive part. Slice i is sent before slice i is received, which keeps in-place
  // exchanges (src and dst the same block) correct.
  const bool sends = stepSends(step.kind);
  const bool receives = stepReceives(step.kind);
  const size_t sendTotal = sends ? src.bytes : 0;
  const size_t recvTotal = receives ? dst.bytes : 0;
  if (sends && s.sent < sendTotal) {
    SendConnection& out = transport_->sendTo(peerOf(program, step.sendPeer));
    // The output half of a carried copy; null in place, where that copy has nothing to do.
    std::byte* copyTo = nullptr;
    if (sendCarriesNextCopy(program, s.step, s.round)) {
      copyTo = regionOf(program, program.steps[s.step + 1].dst, s.round).data;
      if (copyTo == src.data) copyTo = nullptr;
    }
    while (s.sent < sendTotal) {
      std::span<std::byte> next = out.acquire();
      if (next.empty()) break;
      size_t n = std::min(slot, sendTotal - s.sent);
      if (copyTo != nullptr && sendBorrowed(plan, out, src.data + s.sent, n, program)) {
        // Sent straight from the input; the copy to the output is the step's own.
        store(program, BufferId::Output, copyTo + s.sent, src.data + s.sent, n);
        s.sent += n;
        moved = true;
        continue;
      }
      if (copyTo != nullptr && streamsSlot(out, n)) {
        kernels::copyToBoth(next.data(), true, copyTo + s.sent,
                            streamsInto(program, BufferId::Output), src.data + s.sent, n);
      } else if (copyTo != nullptr) {
        // Plain slot stores mixed line by line with streaming output stores measured
        // slower (perf/history): one piece at a time, the second read from cache.
        fill(out, next.data(), src.data + s.sent, n);
        store(program, BufferId::Output, copyTo + s.sent, src.data + s.sent, n);
      } else if (step.src.buffer == BufferId::Input && program.reduction.preMultiply) {
        load(program, step.src.buffer, next.data(), src.data + s.sent, n);
      } else {
        send(plan, out, next, src.data + s.sent, n,
             sendsStay(program, step.src.buffer) && !(receives && overlaps(src, dst)), program);
        s.sent += n;
        moved = true;
        continue;
      }
      out.commit(n, program.tag);
      staged_ += n;
      s.sent += n;
      moved = true;
    }
  }
  if (receives && s.received < recvTotal) {
    RecvConnection& in = transport_->recvFrom(peerOf(program, step.recvPeer));
    // Not where the step sends from the same bytes: those must leave before they are
    // overwritten (see above).
    if (!stepReduces(step.kind) && !(sends && overlaps(src, dst)))
      hintPlacement(s, in, dst, program);
    while (s.received < recvTotal) {
      std::span<const std::byte> msg = in.peek();
      if (msg.empty()) break;
      if (in.tag() != program.tag) [[unlikely]] {
        discardOrFail(program, in, peerOf(program, step.recvPeer));
        moved = true;
        continue;
      }
      size_t n = msg.size();
      if (s.received + n > recvTotal)
        throw Error(ncclInvalidUsage, std::string(program.what) + ": message larger than expected");
      if (s.sent < std::min(sendTotal, s.received + n)) break;
      if (msg.data() != dst.data + s.received) staged_ += n;  // it arrived in a slot
      if (stepReduces(step.kind))
        combine(program, step, dst.data + s.received, src.data + s.received, msg.data(), n);
      else
        store(program, step.dst.buffer, dst.data + s.received, msg.data(), n, dst.data == src.data);
      in.release();
      s.received += n;
      moved = true;
    }
  }
  return s.sent == sendTotal && s.received == recvTotal;
}

bool Executor::sendBorrowed(Plan& plan, SendConnection& out, const std::byte* from, size_t bytes,
                            const Program& program) {
  if (!out.commitFrom(from, bytes, program.tag)) return false;
  if (std::find(plan.borrowed.begin(), plan.borrowed.end(), &out) == plan.borrowed.end())
    plan.borrowed.push_back(&out);
  return true;
}

void Executor::send(Plan& plan, SendConnection& out, std::span<std::byte> slot,
                    const std::byte* from, size_t bytes, bool borrow, const Program& program) {
  if (borrow && sendBorrowed(plan, out, from, bytes, program)) return;
  fill(out, slot.data(), from, bytes);
  out.commit(bytes, program.tag);
  staged_ += bytes;
}

const Program* Executor::currentProgram(const Plan& plan) {
  if (plan.stepsDone()) return nullptr;
  for (const Stream& s : plan.phases[plan.phase]) {
    if (!s.done()) return &s.programs[s.program];
  }
  return nullptr;
}

void Executor::waitedPeers(const Plan& plan, std::vector<int>& peers) {
  if (plan.stepsDone()) return;
  for (const Stream& s : plan.phases[plan.phase]) {
    if (s.done()) continue;
    const Program& p = s.programs[s.program];
    if (s.step >= p.steps.size()) continue;
    const Step& step = p.steps[s.step];
    for (int peer : {step.recvPeer, step.sendPeer}) {
      if (peer >= 0) peers.push_back(peerOf(p, peer));
    }
  }
}

std::string Executor::describeWait(const Plan& plan) const {
  if (plan.done()) return "nothing";
  if (plan.stepsDone()) return "sends from the caller's buffers still in flight";
  for (const Stream& s : plan.phases[plan.phase]) {
    if (s.done()) continue;
    const Program& p = s.programs[s.program];
    std::string where = std::string(p.what) + " round " + std::to_string(s.round);
    if (s.step >= p.steps.size()) return where;
    const Step& step = p.steps[s.step];
    where += " step " + std::to_string(s.step) + " (" + stepKindName(step.kind) + ")";
    if (step.recvPeer >= 0)
      where += ", waiting on rank " + std::to_string(peerOf(p, step.recvPeer));
    if (step.sendPeer >= 0)
      where += ", sending to rank " + std::to_string(peerOf(p, step.sendPeer));
    return where;
  }
  return "nothing";
}

}  // namespace prism
