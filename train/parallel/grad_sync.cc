#include "train/parallel/grad_sync.h"

#include <algorithm>
#include <limits>

namespace prism::train {

struct GradSync::Group {
  int id = 0;
  std::vector<Param*> params;  ///< reduced over dp (expert parameters excluded)
  std::vector<Param*> all;     ///< every parameter (reduced over cp)
  size_t count = 0, padded = 0, shard = 0, offset = 0;
  Vec grads, weights, shardGrad, momentum;
  Work work;
  bool pending = false;

  void packGrads(Vec& out) const {
    size_t at = 0;
    for (Param* p : params)
      at = std::copy(p->g.begin(), p->g.end(), out.begin() + at) - out.begin();
  }
  void packWeights(Vec& out) const {
    size_t at = 0;
    for (Param* p : params)
      at = std::copy(p->w.begin(), p->w.end(), out.begin() + at) - out.begin();
  }
  void unpackWeights(const Vec& in) {
    size_t at = 0;
    for (Param* p : params) {
      std::copy_n(in.begin() + at, p->size(), p->w.begin());
      at += p->size();
    }
  }
  void unpackGrads(const Vec& in) {
    size_t at = 0;
    for (Param* p : params) {
      std::copy_n(in.begin() + at, p->size(), p->g.begin());
      at += p->size();
    }
  }
  void release() {
    for (Param* p : params)
      std::fill(p->w.begin(), p->w.end(), std::numeric_limits<float>::quiet_NaN());
  }
};

GradSync::GradSync(Gpt& model, SyncComms comms, float lr, float momentum)
    : comms_(comms), lr_(lr), momentum_(momentum), expertSgd_(lr, momentum) {
  const int dp = comms_.dp ? comms_.dp->size() : 1;
  const int rank = comms_.dp ? comms_.dp->rank() : 0;
  for (auto& [id, ps] : model.groups()) {
    auto g = std::make_unique<Group>();
    g->id = id;
    g->all = ps;
    for (Param* p : ps) (p->expert ? expertParams_ : g->params).push_back(p);
    for (Param* p : g->params) g->count += p->size();
    g->padded = comms_.zeroStage > 0 ? (g->count + dp - 1) / dp * dp : g->count;
    g->shard = comms_.zeroStage > 0 ? g->padded / dp : g->count;
    g->offset = comms_.zeroStage > 0 ? rank * g->shard : 0;
    g->grads.assign(g->padded, 0.0f);
    g->weights.assign(g->padded, 0.0f);
    g->shardGrad.assign(g->shard, 0.0f);
    g->momentum.assign(g->shard, 0.0f);
    groups_.push_back(std::move(g));
  }
  if (comms_.zeroStage == 3) {
    overlap::ParamPrefetcher::Options po;
    po.maxInFlight = comms_.prefetch + 1;  // the group needed now and those ahead of it
    po.memory = comms_.memory;
    prefetcher_ = std::make_unique<overlap::ParamPrefetcher>(comms_.dp->comm(), po);
    for (auto& g : groups_) {
      const size_t unit = prefetcher_->addUnit(g->shard);
      unitOf_[g->id] = unit;
      g->packWeights(g->weights);
      overlap::copyTensor(prefetcher_->shard(unit),
                          std::span(g->weights).subspan(g->offset, g->shard));
      g->release();
    }
  }
  if (comms_.zeroStage == 0 && comms_.dp) {
    overlap::GradBucketer::Options bo;
    // Launched through TracedComm, so that it is counted; float32, as the model keeps it.
    bo.mode = overlap::GradBucketer::Mode::Hook;
    bo.average = false;  // the loss is already scaled by the global batch
    // Small buckets by default: the reference model is small, and several buckets are
    // needed for any overlap at all. The first is launched earliest, so it is smaller.
    bo.firstBucketCapBytes = comms_.bucketBytes / 4;
    bo.bucketCapBytes = comms_.bucketBytes;
    bo.memory = comms_.memory;
    TracedComm* dpComm = comms_.dp;
    bo.hook = [dpComm](Comm&, overlap::TensorView bucket) {
      const std::span<float> floats = bucket.as<float>();
      return dpComm->allReduce(floats.data(), floats.size());
    };
    bucketer_ = std::make_unique<overlap::GradBucketer>(comms_.dp->comm(), bo);
    // Backward produces gradients from the head down to the embedding.
    for (auto g = groups_.rbegin(); g != groups_.rend(); ++g)
      for (auto p = (*g)->params.rbegin(); p != (*g)->params.rend(); ++p)
        bucketIndex_[*p] = bucketer_->addParam((*p)->size());
  }
}

GradSync::~GradSync() = default;

GradSync::Group* GradSync::find(int id) {
  for (auto& g : groups_)
    if (g->id == id) return g.get();
  return nullptr;
}

void GradSync::setMicrobatch(int index, int count) {
  microbatch_ = index;
  microbatches_ = count;
}

Work GradSync::unshard(size_t unit) {
  if (prefetcher_->gathered(unit)) return prefetcher_->unshard(unit);
  const Work w = prefetcher_->unshard(unit);
  comms_.dp->recordExternal(w, Collective::AllGather, "allGather",
                            static_cast<int64_t>(prefetcher_->full(unit).bytes()));
  return w;
}

void GradSync::gatherParams(Group& g, bool backward) {
  const size_t unit = unitOf_.at(g.id);
  const Work w = unshard(unit);
  // Prefetch the groups that run next while this one computes. More than one ahead lets
  // a rank that was delayed catch up without its peer waiting at every group.
  for (size_t d = 1; d <= static_cast<size_t>(comms_.prefetch); ++d) {
    if (!backward && unit + d < prefetcher_->unitCount()) unshard(unit + d);
    if (backward && unit >= d) unshard(unit - d);
  }
  comms_.dp->wait(w);
  const overlap::TensorView full = prefetcher_->full(unit);
  overlap::copyTensor(std::span(g.weights).first(full.count()), full);
  g.unpackWeights(g.weights);
}

void GradSync::beforeGroup(int id, bool backward) {
  if (prefetcher_) gatherParams(*find(id), backward);
}

void GradSync::afterGroup(int id, bool backward) {
  Group& g = *find(id);
  if (prefetcher_) {
    prefetcher_->reshard(unitOf_.at(id));
    g.release();
  }
  if (backward && microbatch_ == microbatches_ - 1) launchReduction(g);
}

namespace {

// Sums the gradients of `params` over `comm` with one all-reduce, waited at once.
void sumGradients(TracedComm& comm, const std::vector<Param*>& params) {
  Vec flat;
  for (Param* p : params) flat.insert(flat.end(), p->g.begin(), p->g.end());
  if (flat.empty()) return;
  comm.wait(comm.allReduce(flat.data(), flat.size()));
  size_t at = 0;
  for (Param* p : params) {
    std::copy_n(flat.begin() + at, p->size(), p->g.begin());
    at += p->size();
  }
}

}  // namespace

void GradSync::launchReduction(Group& g) {
  // Partial sums over other dimensions first; these are small and needed at once.
  if (comms_.tp) {
    std::vector<Param*> replicated;
    for (Param* p : g.all)
      if (p->split == Split::None) replicated.push_back(p);
    sumGradients(*comms_.tp, replicated);
  }
  if (comms_.cp) sumGradients(*comms_.cp, g.all);
  if (!comms_.dp || g.count == 0) return;
  if (bucketer_) {
    for (Param* p : g.params) {
      const size_t i = bucketIndex_.at(p);
      overlap::copyTensor(bucketer_->grad(i), p->g);
      bucketer_->markReady(i);
    }
    return;
  }
  g.packGrads(g.grads);
  if (prefetcher_) {
    const size_t unit = unitOf_.at(g.id);
    if (unit > 0) unshard(unit - 1);  // reduceGrad prefetches it; count it here
    overlap::copyTensor(prefetcher_->grad(unit), g.grads);
    g.work = prefetcher_->reduceGrad(unit, /*average=*/false);
    comms_.dp->recordExternal(g.work, Collective::ReduceScatter, "reduceScatter",
                              static_cast<int64_t>(g.padded * sizeof(float)));
  } else if (comms_.zeroStage == 2)
    g.work = comms_.dp->reduceScatter(g.grads.data(), g.shardGrad.data(), g.shard);
  else
    g.work = comms_.dp->allReduce(g.grads.data(), g.padded);
  g.pending = true;
}

void GradSync::finishStep() {
  if (bucketer_) {
    comms_.dp->meter().endCompute();
    bucketer_->finalize();
    comms_.dp->meter().beginCompute();
    for (auto& g : groups_)
      for (Param* p : g->params) {
        overlap::copyTensor(p->g, bucketer_->grad(bucketIndex_.at(p)));
      }
  }
  for (auto& gp : groups_) {
    Group& g = *gp;
    if (g.pending) comms_.dp->wait(g.work);
    g.pending = false;
    if (g.count == 0) continue;
    if (!comms_.dp || bucketer_) g.packGrads(g.grads);
    switch (comms_.zeroStage) {
      case 0:
        g.packWeights(g.weights);
        sgdUpdate(g.weights.data(), g.grads.data(), g.momentum.data(), g.count, lr_, momentum_);
        g.unpackWeights(g.weights);
        break;
      case 1:
      case 2: {
        g.packWeights(g.weights);
        const float* grad = comms_.zeroStage == 1 ? g.grads.data() + g.offset : g.shardGrad.data();
        Vec shard(g.weights.begin() + g.offset, g.weights.begin() + g.offset + g.shard);
        sgdUpdate(shard.data(), grad, g.momentum.data(), g.shard, lr_, momentum_);
        comms_.dp->wait(comms_.dp->allGather(shard.data(), g.weights.data(), g.shard));
        g.unpackWeights(g.weights);
        break;
      }
      case 3: {
        // The optimizer runs on the host: the shard and its gradient are staged through
        // host buffers (plain copies when the prefetcher keeps host memory).
        const size_t unit = unitOf_.at(g.id);
        const std::span<float> weights = std::span(g.weights).subspan(g.offset, g.shard);
        overlap::copyTensor(weights, prefetcher_->shard(unit));
        overlap::copyTensor(g.shardGrad, prefetcher_->gradShard(unit));
        sgdUpdate(weights.data(), g.shardGrad.data(), g.momentum.data(), g.shard, lr_, momentum_);
        overlap::copyTensor(prefetcher_->shard(unit), weights);
        // A unit still gathered (prefetched across micro-batches) holds old values.
        prefetcher_->reshard(unit);
        break;
      }
    }
  }
  if (!expertParams_.empty()) expertSgd_.step(expertParams_);
}

}  // namespace prism::train
