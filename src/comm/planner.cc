#include "src/comm/planner.h"

#include <algorithm>
#include <cstring>

#include "algorithms/in_network_model.h"
#include "algorithms/select.h"
#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "transports/transport.h"

namespace prism {

namespace {

/// The per-rank buffer size nccl-tests reports for a call (its larger buffer), which the
/// selector models.
size_t reportedBytes(const Operation& op, int nranks) {
  size_t bytes = op.count * dataTypeSize(op.type);
  return op.kind == OperationKind::Collective ? bytes * bufferShares(op.collective, nranks) : bytes;
}

BufferLayout layoutFor(const Operation& op, const void* base, int blocks) {
  BufferLayout layout;
  layout.base = static_cast<std::byte*>(const_cast<void*>(base));
  layout.elemSize = dataTypeSize(op.type);
  if (splitsCount(op.collective)) {
    layout.stride = (op.count + blocks - 1) / std::max(blocks, 1);
    layout.total = op.count;
  } else {
    layout.stride = op.count;
    layout.total = op.count * static_cast<size_t>(blocks);
  }
  return layout;
}

int scheduleRankOf(const Operation& op, int rank) {
  if (!op.members) return rank;
  auto it = std::find(op.members->begin(), op.members->end(), rank);
  check(it != op.members->end(), ncclInternalError, "rank is not a member of the operation");
  return static_cast<int>(it - op.members->begin());
}

/// True when `a` and `b` bind to the same plan. A scalar re-read at every call
/// (ncclScalarDevice) never matches.
bool sameCall(const Operation& a, const Operation& b) {
  const Reduction& x = a.reduction;
  const Reduction& y = b.reduction;
  return a.kind == b.kind && a.collective == b.collective && a.sendbuff == b.sendbuff &&
         a.recvbuff == b.recvbuff && a.count == b.count && a.type == b.type && a.root == b.root &&
         a.peer == b.peer && a.members == b.members && a.serves == b.serves &&
         a.onDevice == b.onDevice && a.algorithm == b.algorithm && x.op == y.op &&
         x.average == y.average && x.preMultiply == y.preMultiply && x.scalar == y.scalar &&
         x.scalarSource == nullptr && y.scalarSource == nullptr;
}

}  // namespace

Planner::Planner(int rank, int size, std::string name, const FabricModel& fabric,
                 const std::vector<int>& hostOf, const Transport& transport,
                 std::string algoOverride)
    : rank_(rank),
      size_(size),
      name_(std::move(name)),
      fabric_(fabric),
      hostOf_(hostOf),
      transport_(transport),
      algoOverride_(std::move(algoOverride)),
      sentTo_(static_cast<size_t>(size), 0),
      receivedFrom_(static_cast<size_t>(size), 0) {}

const Schedule& Planner::scheduleFor(Collective collective, int nranks, int root, size_t bytes,
                                     const AlgorithmInfo* chosen) {
  // The selector's choice is remembered per power-of-two size class, so the cost model
  // runs once per class instead of on every call. The router's choice (a tuner's answer)
  // is asked for every call and bypasses that memory.
  const int sizeClass = bytes == 0 ? 0 : 64 - __builtin_clzll(bytes);
  const SelectionKey chosenKey{collective, nranks, root, sizeClass};
  if (chosen == nullptr) {
    auto remembered = chosen_.find(chosenKey);
    if (remembered != chosen_.end()) return *remembered->second;
  }
  const SelectionRequest request = selectionFor(collective, nranks, bytes);
  const AlgorithmInfo& algo = chosen != nullptr ? *chosen : selectAlgorithm(request);
  auto key = std::make_tuple(static_cast<const void*>(&algo), collective, nranks, root);
  auto it = schedules_.find(key);
  if (it == schedules_.end()) {
    it = schedules_.emplace(key, algo.generate(scheduleRequestFor(request, root))).first;
  }
  if (chosen == nullptr) chosen_.emplace(chosenKey, &it->second);
  return it->second;
}

SelectionRequest Planner::selectionFor(Collective collective, int nranks, size_t bytes) const {
  SelectionRequest request{collective, nranks, bytes, algoOverride_};
  request.chunkBytes = transport_.slotBytes();
  if (nranks == size_) {
    request.fabric = &fabric_;
    request.groupOf = &hostOf_;
  }
  return request;
}

SelectionRequest Planner::selectionFor(const Operation& op) const {
  return selectionFor(op.collective, size_, reportedBytes(op, size_));
}

double Planner::predictMicros(const Operation& op) const {
  const size_t bytes = reportedBytes(op, size_);
  if (op.kind != OperationKind::Collective) {
    // A point-to-point message behaves like a one-step chain.
    return prism::predictMicros(*findAlgorithm("ring"), {Collective::Broadcast, 2, bytes, ""});
  }
  const SelectionRequest request = selectionFor(op.collective, size_, bytes);
  return prism::predictMicros(selectAlgorithm(request), request);
}

Program Planner::bindCollective(const Operation& op, bool recovering) {
  const int nranks = op.members ? static_cast<int>(op.members->size()) : size_;
  const Schedule& schedule =
      scheduleFor(op.collective, nranks, op.root, reportedBytes(op, nranks), op.algorithm);
  const int me = scheduleRankOf(op, rank_);
  Program program;
  program.steps = schedule.steps[static_cast<size_t>(me)];
  program.input = layoutFor(op, op.sendbuff, schedule.inputBlocks);
  program.output = layoutFor(op, op.recvbuff, schedule.outputBlocks);
  // The memory comes later (build), once every collective of the group is bound.
  program.scratch =
      scratchLayout(program.input, op.collective, scratchBlocksUsed(program.steps), nullptr);
  program.type = op.type;
  program.reduction = op.reduction;
  if (op.reduction.scalarSource) {
    std::memcpy(program.reduction.scalar.data(), op.reduction.scalarSource, dataTypeSize(op.type));
  }
  program.nranks = nranks;
  if (op.members) program.members = *op.members;
  program.what = collectiveName(op.collective);
  lastAlgorithm_ = schedule.algorithm;
  program.fingerprint = fingerprintOf(op, 0);
  program.serves = op.serves;
  program.skipStale = recovering && op.members != nullptr;
  // Every message of a round must fit in half of a FIFO: the flow control model that the
  // verifier proves schedules against (schedule.h).
  const size_t fifoBytes = transport_.slotBytes() * static_cast<size_t>(transport_.slotCount());
  program.roundElems = std::max<size_t>(1, fifoBytes / 2 / program.input.elemSize);
  size_t longest = std::max(program.input.stride, program.output.stride);
  program.rounds = op.count == 0 ? 0 : (longest + program.roundElems - 1) / program.roundElems;
  log::info(log::kColl, "%s rank %d: %s count %zu type %s algorithm %s, %zu rounds", name_.c_str(),
            rank_, program.what, op.count, dataTypeName(op.type), schedule.algorithm.c_str(),
            program.rounds);
  return program;
}

Plan& Planner::build(std::span<const Operation> ops, bool recovering) {
  replay_.reset();
  plan_.clear();
  // Collectives run in issue order, one phase each. Point-to-point operations of the
  // group run last, all at once, so no posting order can deadlock them.
  size_t scratchBytes = 0;
  for (const Operation& op : ops) {
    if (op.kind != OperationKind::Collective) continue;
    const Program& program =
        plan_.addSingleStreamPhase().programs.emplace_back(bindCollective(op, recovering));
    scratchBytes = std::max(scratchBytes, program.scratch.total * program.scratch.elemSize);
  }
  // Phases run one after another, so their programs share one scratch buffer.
  if (scratchBytes > 0) {
    std::byte* scratch = scratchMemory(scratchBytes);
    for (auto& phase : plan_.phases) {
      for (Program& program : phase.front().programs) program.scratch.base = scratch;
    }
  }
  addPointToPoint(ops);
  stamp(plan_);
  return plan_;
}

Plan& Planner::planFor(std::span<const Operation> ops, bool recovering) {
  const bool replay = ops.size() == 1 && replay_ && sameCall(*replay_, ops[0]) && !recovering;
  replay_.reset();
  if (!replay) return build(ops, recovering);
  Plan& plan = plan_.rewind();
  stamp(plan);
  return plan;
}

void Planner::completed(std::span<const Operation> ops) {
  if (ops.size() == 1) replay_ = ops[0];
}

bool Planner::inNetworkPreferred(size_t bytes) {
  const int sizeClass = bytes == 0 ? 0 : 64 - __builtin_clzll(bytes);
  if (auto it = innetChoice_.find(sizeClass); it != innetChoice_.end()) return it->second;
  bool prefer = false;
  if (const std::optional<double> innet = inNetworkMicros(bytes)) {
    const SelectionRequest request = selectionFor(Collective::AllReduce, size_, bytes);
    const double plans = prism::predictMicros(selectAlgorithm(request), request);
    prefer = *innet < plans;
    log::info(log::kTuning,
              "AllReduce nranks %d bytes %zu: innet predicted %.2f us, plans %.2f us%s", size_,
              bytes, *innet, plans, prefer ? ": selected innet" : "");
  }
  innetChoice_.emplace(sizeClass, prefer);
  return prefer;
}

std::optional<double> Planner::inNetworkMicros(size_t bytes) const {
  // Each rank streams its S bytes up and the result down through its host's link, which
  // all ranks of the host share; the chunks pipeline, so one round trip of latency.
  const InNetworkCosts costs = inNetworkCostsFor(fabric_, hostOf_);
  // A single host has no network link to save.
  if (costs.linkBytesPerMicro <= 0) return std::nullopt;
  return predictInNetworkMicros(bytes, size_, costs);
}

void Planner::stamp(Plan& plan) {
  for (auto& phase : plan.phases) {
    for (Stream& stream : phase) {
      for (Program& p : stream.programs) {
        OpFingerprint& f = p.fingerprint;
        if (p.serves != nullptr) {
          f = *p.serves;
        } else if (f.kind != kPointToPointKind) {
          f.seq = p.members.empty() ? collectiveSeq_++ : 0;
        } else if (p.steps.front().kind == StepKind::Send) {
          f.seq = sentTo_[static_cast<size_t>(p.steps.front().sendPeer)]++;
        } else {
          f.seq = receivedFrom_[static_cast<size_t>(p.steps.front().recvPeer)]++;
        }
        p.tag = tagOf(f);
      }
    }
  }
}

std::byte* Planner::scratchMemory(size_t bytes) {
  if (scratch_.size() < bytes) {
    // A fresh zeroed buffer rather than a resize, which would copy the old contents: every
    // page is touched here, once, and never again inside a call.
    scratch_ = std::vector<std::byte>(bytes);
    log::info(log::kColl, "%s rank %d: scratch grown to %zu bytes", name_.c_str(), rank_, bytes);
  }
  return scratch_.data();
}

void Planner::addPointToPoint(std::span<const Operation> ops) {
  size_t count = 0;
  for (const Operation& op : ops) count += op.kind != OperationKind::Collective;
  if (count == 0) return;
  // Steps live in the plan; reserve so the spans into it stay valid.
  plan_.ownedSteps.reserve(count);
  std::vector<Stream> streams;
  // Streams are keyed by (peer, direction); messages to one peer keep their order.
  std::map<std::pair<int, int>, size_t> streamOf;
  std::vector<const Operation*> selfSends;
  std::vector<const Operation*> selfRecvs;
  for (const Operation& op : ops) {
    if (op.kind == OperationKind::Collective) continue;
    const bool isSend = op.kind == OperationKind::Send;
    if (op.peer == rank_) {
      (isSend ? selfSends : selfRecvs).push_back(&op);
      continue;
    }
    Step step;
    step.kind = isSend ? StepKind::Send : StepKind::Recv;
    (isSend ? step.sendPeer : step.recvPeer) = op.peer;
    step.src = {BufferId::Input, 0};
    step.dst = {BufferId::Output, 0};
    plan_.ownedSteps.push_back(step);
    Program program;
    program.steps = {&plan_.ownedSteps.back(), 1};
    const BufferLayout layout{
        static_cast<std::byte*>(isSend ? const_cast<void*>(op.sendbuff) : op.recvbuff), op.count,
        op.count, dataTypeSize(op.type)};
    program.input = program.output = layout;
    program.type = op.type;
    program.roundElems = std::max<size_t>(op.count, 1);
    program.rounds = op.count == 0 ? 0 : 1;
    program.what = isSend ? "Send" : "Recv";
    program.fingerprint = fingerprintOf(op, 0);
    auto key = std::make_pair(op.peer, isSend ? 1 : 0);
    auto [it, added] = streamOf.emplace(key, streams.size());
    if (added) streams.emplace_back();
    streams[it->second].programs.push_back(program);
  }
  check(selfSends.size() == selfRecvs.size(), ncclInvalidUsage,
        "a send to self needs a matching receive from self in the same group");
  for (size_t i = 0; i < selfSends.size(); ++i) {
    const Operation& send = *selfSends[i];
    const Operation& recv = *selfRecvs[i];
    check(send.count == recv.count && send.type == recv.type, ncclInvalidUsage,
          "a send to self and its receive differ in count or type");
    if (send.count == 0 || send.sendbuff == recv.recvbuff) continue;
    std::memcpy(recv.recvbuff, send.sendbuff, send.count * dataTypeSize(send.type));
  }
  if (!streams.empty()) plan_.phases.push_back(std::move(streams));
}

}  // namespace prism
