#include "train/parallel/trainer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "train/model/cuda/matmul_cuda.h"
#include "train/model/data.h"
#include "train/model/matmul_backend.h"
#include "train/overlap/pipeline_scheduler.hpp"
#include "train/parallel/parallel_hooks.h"
#include "train/parallel/pipeline.h"

namespace prism::train {

struct Trainer::State {
  Options o;
  Comm& world;
  DeviceMesh mesh;
  CommStats stats;
  overlap::OverlapMeter meter;
  TracedComm dp, tp, pp, cp, ep;
  std::optional<TensorParallel> tpPart;
  std::optional<RingAttention> cpPart;
  std::optional<ExpertParallel> epPart;
  Gpt model;
  std::optional<GradSync> sync;
  std::optional<ParallelHooks> hooks;
  /// --device cuda: this rank's matrix products run here (installed for each step).
  std::unique_ptr<MatmulBackend> compute;

  State(Comm& w, const Options& opt)
      : o(opt),
        world(w),
        mesh(w, opt.mesh),
        dp(mesh.dp(), stats, meter),
        tp(mesh.tp(), stats, meter),
        pp(mesh.pp(), stats, meter),
        cp(mesh.cp(), stats, meter),
        ep(mesh.ep(), stats, meter),
        model(opt.model, shardFor(opt, mesh)) {
    meter.setSerialize(opt.serialize);
  }

  static ModelShard shardFor(const Options& o, DeviceMesh& mesh) {
    const int perStage = o.model.layers / o.mesh.pp;
    ModelShard s;
    s.tp = o.mesh.tp;
    s.tpRank = mesh.tpRank();
    s.ep = o.mesh.ep;
    s.epRank = mesh.epRank();
    s.firstLayer = mesh.ppRank() * perStage;
    s.lastLayer = s.firstLayer + perStage;
    s.embedding = mesh.ppRank() == 0;
    s.head = mesh.ppRank() == o.mesh.pp - 1;
    return s;
  }

  MicroBatch microBatch(int step, int index) const {
    const int local = o.train.batch / o.mesh.dp;
    const int seqs = local / o.microbatches;
    const int first = mesh.dpRank() * local + index * seqs;
    const std::vector<int> pos = contextPositions(o.model.seq, o.mesh.cp, mesh.cpRank());
    MicroBatch mb;
    mb.sequences = seqs;
    mb.tokens = static_cast<int>(pos.size());
    mb.lossScale = 1.0f / static_cast<float>(o.train.batch * o.model.seq);
    for (int s = first; s < first + seqs; ++s) {
      const std::vector<int> t =
          sampleTokens(o.train.dataSeed, step, s, o.model.seq, o.model.vocab);
      for (int p : pos) {
        mb.inputs.push_back(t[p]);
        mb.positions.push_back(p);
        mb.targets.push_back(t[p + 1]);
      }
    }
    if (o.sequenceParallel && o.mesh.tp > 1) {  // keep this rank's slice of the tokens
      const size_t n = mb.inputs.size() / o.mesh.tp, from = n * mesh.tpRank();
      for (auto* v : {&mb.inputs, &mb.positions, &mb.targets})
        *v = std::vector<int>(v->begin() + from, v->begin() + from + n);
    }
    return mb;
  }
};

Trainer::Trainer(Comm& world, const Options& options) {
  validateOptions(options, world.size());
  // Before any collective: a rank without CUDA fails here, as every other rank does.
  std::unique_ptr<MatmulBackend> compute;
  if (options.deviceCompute) compute = makeCudaMatmulBackend();
  s_ = std::make_unique<State>(world, options);
  State& s = *s_;
  s.compute = std::move(compute);
  const MeshShape& m = options.mesh;
  if (m.tp > 1) s.tpPart.emplace(s.tp, options.sequenceParallel);
  if (m.cp > 1) s.cpPart.emplace(s.cp, options.model.seq);
  if (m.ep > 1) s.epPart.emplace(s.ep);
  SyncComms sc;
  sc.zeroStage = options.zeroStage;
  sc.bucketBytes = static_cast<size_t>(options.bucketKb) << 10;
  sc.prefetch = options.prefetch;
  sc.memory = options.memory;
  sc.dp = (m.dp > 1 || options.zeroStage > 0) ? &s.dp : nullptr;
  sc.cp = m.cp > 1 ? &s.cp : nullptr;
  sc.tp = (options.sequenceParallel && m.tp > 1) ? &s.tp : nullptr;
  s.sync.emplace(s.model, sc, options.train.lr, options.train.momentum);
  HookParts parts{s.tpPart ? &*s.tpPart : nullptr, s.cpPart ? &*s.cpPart : nullptr,
                  s.epPart ? &*s.epPart : nullptr, &*s.sync};
  s.hooks.emplace(contextPositions(options.model.seq, m.cp, s.mesh.cpRank()), parts);
}

Trainer::~Trainer() = default;

StepReport Trainer::step(int index) {
  State& s = *s_;
  // Steps run on the rank's own thread: the backend is thread-local (nullptr: CPU loops).
  MatmulBackendGuard compute(s.compute.get());
  const auto start = std::chrono::steady_clock::now();
  s.stats.reset();
  s.meter.beginCompute();
  s.model.zeroGrad();
  const int stages = s.o.mesh.pp, stage = s.mesh.ppRank(), mbs = s.o.microbatches;
  const bool first = stage == 0, last = stage == stages - 1;
  std::vector<MicroBatch> batches(mbs);
  for (int i = 0; i < mbs; ++i) batches[i] = s.microBatch(index, i);
  std::vector<Gpt::Cache> caches(mbs);
  std::vector<Vec> in(mbs), out(mbs), grad(mbs), dIn(mbs);
  double lossSum = 0.0;
  // One tick per action: the previous action's send goes out with this action's receive,
  // as one batch (any posting order of a batch completes), so neighbouring stages never
  // wait on each other's sends.
  overlap::PipelineScheduler ticks(s.mesh.pp());
  const size_t rows = batches[0].inputs.size() * s.o.model.hidden;
  auto flush = [&] {
    const size_t transfers = ticks.pendingCount();
    if (transfers == 0) return;
    const Work w = ticks.flush();
    s.pp.recordExternal(w, Collective::SendRecv, "sendRecv",
                        static_cast<int64_t>(transfers * rows * sizeof(float)));
    s.pp.wait(w);
  };
  for (const PipeAction& a : pipelineSchedule(s.o.schedule, stages, stage, mbs)) {
    const int i = a.microbatch;
    const bool fwd = a.kind == PipeAction::Kind::Forward;
    if (fwd && !first) {
      in[i].assign(rows, 0.0f);
      ticks.recvPrev(in[i]);
    }
    if (!fwd && !last) {
      grad[i].assign(rows, 0.0f);
      ticks.recvNext(grad[i]);
    }
    flush();
    s.sync->setMicrobatch(i, mbs);
    if (fwd) {
      out[i] = s.model.forward(*s.hooks, batches[i], in[i], caches[i], &lossSum);
      if (!last) ticks.sendNext(out[i]);
    } else {
      dIn[i] = s.model.backward(*s.hooks, batches[i], caches[i], grad[i]);
      caches[i] = Gpt::Cache{};
      if (!first) ticks.sendPrev(dIn[i]);
    }
  }
  flush();
  s.sync->finishStep();
  s.meter.endCompute();
  const overlap::OverlapMeter::Report overlap = s.meter.endStep();
  s.stats.commSeconds = overlap.commSeconds;
  s.stats.exposedSeconds = overlap.exposedSeconds;
  // Loss of the global batch: each token counted once (one tp rank unless tokens are
  // split across tp). Not counted in the traffic statistics.
  double loss = (last && (s.o.sequenceParallel || s.mesh.tpRank() == 0)) ? lossSum : 0.0;
  s.world.allReduce(&loss, &loss, 1, ncclFloat64, ncclSum).wait();
  double exposed[2] = {overlap.exposedSeconds, -overlap.exposedSeconds};
  s.world.allReduce(exposed, exposed, 2, ncclFloat64, ncclMax).wait();
  StepReport r;
  r.exposedMaxSeconds = exposed[0];
  r.exposedMinSeconds = -exposed[1];
  r.step = index;
  r.loss = loss / (static_cast<double>(s.o.train.batch) * s.o.model.seq);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.comm = s.stats;
  return r;
}

std::string formatStep(const StepReport& r) {
  char line[256];
  std::snprintf(line, sizeof line, "step %3d  loss %.6f  time %7.2f ms", r.step, r.loss,
                r.seconds * 1e3);
  std::string out = line;
  for (const auto& [type, e] : r.comm.byType) {
    std::snprintf(line, sizeof line, "  %s %lldx %lld B", type.c_str(),
                  static_cast<long long>(e.calls), static_cast<long long>(e.bytes));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "  comm %.2f ms  exposed %.2f ms  overlap %.0f%%  exposed over ranks %.2f..%.2f ms",
                r.comm.commSeconds * 1e3, r.comm.exposedSeconds * 1e3, r.comm.overlapPercent(),
                r.exposedMinSeconds * 1e3, r.exposedMaxSeconds * 1e3);
  return out + line;
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::string formatSummary(const std::vector<StepReport>& reports, size_t skip) {
  if (reports.size() <= skip) return "summary: no steps";
  std::vector<double> time, comm, exposed, overlap, exposedMin;
  double commSum = 0.0, exposedSum = 0.0;
  for (size_t i = skip; i < reports.size(); ++i) {
    const StepReport& r = reports[i];
    time.push_back(r.seconds);
    comm.push_back(r.comm.commSeconds);
    exposed.push_back(r.comm.exposedSeconds);
    overlap.push_back(r.comm.overlapPercent());
    exposedMin.push_back(r.exposedMinSeconds);
    commSum += r.comm.commSeconds;
    exposedSum += r.comm.exposedSeconds;
  }
  int64_t bytes = 0;
  for (const auto& [type, e] : reports.back().comm.byType) bytes += e.bytes;
  char line[320];
  std::snprintf(line, sizeof line,
                "summary: median of steps %zu..%zu  time %.2f ms  comm %.2f ms  exposed %.2f ms  "
                "overlap %.0f%%  exposed share %.1f%%  min-rank exposed %.2f ms  bytes/step %lld",
                skip, reports.size() - 1, median(time) * 1e3, median(comm) * 1e3,
                median(exposed) * 1e3, median(overlap),
                commSum > 0 ? 100.0 * exposedSum / commSum : 0.0, median(exposedMin) * 1e3,
                static_cast<long long>(bytes));
  return line;
}

std::vector<StepReport> train(Comm& world, const Options& options, std::ostream* log) {
  Trainer trainer(world, options);
  std::vector<StepReport> out;
  for (int i = 0; i < options.train.steps; ++i) {
    if (i == options.exitAtStep && world.rank() == options.exitRank) std::_Exit(3);
    out.push_back(trainer.step(i));
    if (log && world.rank() == 0) *log << formatStep(out.back()) << std::endl;
  }
  // The first step pays for connection set-up and first-touch allocations.
  if (log && world.rank() == 0) *log << formatSummary(out, out.size() > 1 ? 1 : 0) << std::endl;
  return out;
}

}  // namespace prism::train
