// GradBucketer: buckets over one flat gradient buffer, launched strictly in bucket order.
#include "train/overlap/grad_bucketer.hpp"

#include <algorithm>
#include <string>

namespace prism::overlap {

namespace {

void require(bool ok, ncclResult_t code, const std::string& why) {
  if (!ok) throw CommError(code, why);
}

}  // namespace

GradBucketer::GradBucketer(Comm& comm, Options options) : comm_(comm), options_(options) {
  require(options_.mode != Mode::Hook || static_cast<bool>(options_.hook), ncclInvalidArgument,
          "GradBucketer: Mode::Hook needs Options::hook");
  require(options_.bucketCapBytes > 0 && options_.firstBucketCapBytes > 0, ncclInvalidArgument,
          "GradBucketer: bucket caps must be positive");
  elementSize(options_.type);  // throws for an unknown type
}

size_t GradBucketer::addParam(size_t numel) {
  require(!laidOut_, ncclInvalidUsage, "GradBucketer: addParam after the buckets were laid out");
  numel_.push_back(numel);
  return numel_.size() - 1;
}

void GradBucketer::layout() {
  if (laidOut_) return;
  laidOut_ = true;
  const size_t n = static_cast<size_t>(comm_.size());
  const size_t elementBytes = elementSize(options_.type);
  // A bucket takes parameters while they fit its cap; a parameter larger than the cap gets
  // a bucket of its own.
  for (size_t p = 0; p < numel_.size(); ++p) {
    size_t cap = buckets_.size() == 1 ? options_.firstBucketCapBytes : options_.bucketCapBytes;
    bool fits = !buckets_.empty() && (buckets_.back().size + numel_[p]) * elementBytes <= cap;
    if (!fits) buckets_.emplace_back();
    buckets_.back().params.push_back(p);
    buckets_.back().size += numel_[p];
    bucketOf_.push_back(buckets_.size() - 1);
  }
  size_t offset = 0, shardOffset = 0;
  offset_.resize(numel_.size());
  for (Bucket& b : buckets_) {
    b.offset = offset;
    size_t inner = offset;
    for (size_t p : b.params) {
      offset_[p] = inner;
      inner += numel_[p];
    }
    // Reduce-scatter needs equal shares: pad with zeros to a multiple of the ranks.
    if (options_.mode == Mode::ReduceScatter) b.size = (b.size + n - 1) / n * n;
    offset += b.size;
    b.shardOffset = shardOffset;
    shardOffset += b.size / n;
  }
  flat_ = Buffer(offset, options_.type, options_.memory);
  if (options_.mode == Mode::ReduceScatter)
    shards_ = Buffer(shardOffset, options_.type, options_.memory);
  paramReady_.assign(numel_.size(), false);
}

TensorView GradBucketer::grad(size_t param) {
  layout();
  return flat_.view().subview(offset_.at(param), numel_[param]);
}

TensorView GradBucketer::flat() {
  layout();
  return flat_.view();
}

size_t GradBucketer::bucketCount() {
  layout();
  return buckets_.size();
}

const std::vector<size_t>& GradBucketer::bucketParams(size_t bucket) {
  layout();
  return buckets_.at(bucket).params;
}

TensorView GradBucketer::bucket(size_t b) {
  layout();
  return flat_.view().subview(buckets_.at(b).offset, buckets_[b].size);
}

TensorView GradBucketer::shard(size_t b) {
  layout();
  require(options_.mode == Mode::ReduceScatter, ncclInvalidUsage,
          "GradBucketer: shard() is for Mode::ReduceScatter");
  return shards_.view().subview(buckets_.at(b).shardOffset, buckets_[b].size / comm_.size());
}

void GradBucketer::launch(size_t b) {
  Bucket& bucket = buckets_[b];
  TensorView data = this->bucket(b);
  ncclRedOp_t op = options_.average ? ncclAvg : ncclSum;
  std::optional<Collective> collective = Collective::AllReduce;
  switch (options_.mode) {
    case Mode::AllReduce:
      bucket.work = comm_.allReduce(data.data(), data.data(), data.count(), data.type(), op);
      break;
    case Mode::ReduceScatter:
      bucket.work = comm_.reduceScatter(data.data(), shard(b).data(), data.count() / comm_.size(),
                                        data.type(), op);
      collective = Collective::ReduceScatter;
      break;
    case Mode::Hook:
      bucket.work = options_.hook(comm_, data);
      collective = std::nullopt;  // the hook's own scheme
      break;
  }
  launched_.push_back(b);
  if (options_.meter) options_.meter->record(bucket.work, collective, comm_.size());
}

void GradBucketer::markReady(size_t param) {
  layout();
  require(param < numel_.size(), ncclInvalidArgument,
          "GradBucketer: parameter " + std::to_string(param) + " is not registered");
  if (noSync_) return;
  require(!paramReady_[param], ncclInvalidUsage,
          "GradBucketer: parameter " + std::to_string(param) + " marked ready twice in a step");
  paramReady_[param] = true;
  ++buckets_[bucketOf_[param]].ready;
  while (nextLaunch_ < buckets_.size() &&
         buckets_[nextLaunch_].ready == buckets_[nextLaunch_].params.size()) {
    launch(nextLaunch_++);
  }
}

void GradBucketer::finalize() {
  layout();
  if (!noSync_) {
    // Parameters that got no gradient this step still take part: every rank must issue
    // the same collectives.
    while (nextLaunch_ < buckets_.size()) launch(nextLaunch_++);
    for (size_t b = 0; b < buckets_.size(); ++b) {
      buckets_[b].work.wait();
      if (options_.onReduced) options_.onReduced(b);
    }
  }
  for (Bucket& b : buckets_) {
    b.ready = 0;
    b.work = Work();
  }
  std::fill(paramReady_.begin(), paramReady_.end(), false);
  launched_.clear();
  nextLaunch_ = 0;
}

void GradBucketer::zeroGrads() {
  layout();
  flat_.zero();
}

}  // namespace prism::overlap
