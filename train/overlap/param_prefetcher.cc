// ParamPrefetcher: FSDP-style all-gathers ahead of use, bounded in flight.
#include "train/overlap/param_prefetcher.hpp"

#include <algorithm>
#include <string>

namespace prism::overlap {

ParamPrefetcher::ParamPrefetcher(Comm& comm, Options options) : comm_(comm), options_(options) {
  if (options_.maxInFlight < 1)
    throw CommError(ncclInvalidArgument, "ParamPrefetcher: maxInFlight must be at least 1");
  elementSize(options_.type);  // throws for an unknown type
}

size_t ParamPrefetcher::addUnit(size_t shardNumel) {
  Unit unit;
  unit.shardNumel = shardNumel;
  unit.shard = Buffer(shardNumel, options_.type, options_.memory);
  unit.gradShard = Buffer(shardNumel, options_.type, options_.memory);
  units_.push_back(std::move(unit));
  maxFull_ = 0;  // the pool's buffer size is recomputed at the next unshard
  return units_.size() - 1;
}

TensorView ParamPrefetcher::shard(size_t unit) { return units_.at(unit).shard.view(); }
TensorView ParamPrefetcher::gradShard(size_t unit) { return units_.at(unit).gradShard.view(); }

TensorView ParamPrefetcher::full(size_t unit) {
  Unit& u = units_.at(unit);
  if (!u.gathered) return {nullptr, 0, options_.type};
  return u.full.view().first(u.shardNumel * comm_.size());
}

TensorView ParamPrefetcher::grad(size_t unit) {
  Unit& u = units_.at(unit);
  if (u.grad.empty()) u.grad = Buffer(u.shardNumel * comm_.size(), options_.type, options_.memory);
  return u.grad.view();
}

int ParamPrefetcher::inFlight() {
  while (!gathering_.empty() && units_[gathering_.front()].gather.test()) gathering_.pop_front();
  int count = 0;
  for (size_t u : gathering_) count += !units_[u].gather.test();
  return count;
}

Work ParamPrefetcher::unshard(size_t unit) {
  Unit& u = units_.at(unit);
  if (u.gathered) return u.gather;
  // Bound the memory and bandwidth taken by prefetching: wait for the oldest gather.
  while (inFlight() >= options_.maxInFlight) {
    units_[gathering_.front()].gather.wait();
    gathering_.pop_front();
  }
  if (maxFull_ == 0) {
    for (const Unit& other : units_) maxFull_ = std::max(maxFull_, other.shardNumel);
    maxFull_ *= comm_.size();
  }
  // Storage released too small (units were added since) is dropped.
  while (!pool_.empty() && pool_.back().count() < maxFull_) pool_.pop_back();
  if (pool_.empty()) {
    u.full = Buffer(maxFull_, options_.type, options_.memory);
  } else {
    u.full = std::move(pool_.back());
    pool_.pop_back();
  }
  u.gather = comm_.allGather(u.shard.data(), u.full.data(), u.shardNumel, options_.type);
  u.gathered = true;
  gathering_.push_back(unit);
  maxSeen_ = std::max(maxSeen_, inFlight());
  if (options_.meter) options_.meter->record(u.gather, Collective::AllGather, comm_.size());
  return u.gather;
}

void ParamPrefetcher::reshard(size_t unit) {
  Unit& u = units_.at(unit);
  if (!u.gathered) return;
  u.gather.wait();
  u.gathered = false;
  pool_.push_back(std::move(u.full));
}

void ParamPrefetcher::prefetchForward(size_t unit, int depth) {
  for (size_t next = unit + 1; next < units_.size() && next <= unit + depth; ++next) unshard(next);
}

void ParamPrefetcher::prefetchBackward(size_t unit, int depth) {
  for (int d = 1; d <= depth && static_cast<size_t>(d) <= unit; ++d) unshard(unit - d);
}

Work ParamPrefetcher::reduceGrad(size_t unit, bool average) {
  // Operations of a communicator run in issue order, so the next unit's all-gather is
  // issued first or it would wait behind this reduce-scatter.
  prefetchBackward(unit);
  Unit& u = units_.at(unit);
  grad(unit);
  u.reduce = comm_.reduceScatter(u.grad.data(), u.gradShard.data(), u.shardNumel, options_.type,
                                 average ? ncclAvg : ncclSum);
  if (options_.meter) options_.meter->record(u.reduce, Collective::ReduceScatter, comm_.size());
  return u.reduce;
}

void ParamPrefetcher::finalize() {
  for (Unit& u : units_) {
    u.gather.wait();
    u.reduce.wait();
  }
  gathering_.clear();
}

}  // namespace prism::overlap
