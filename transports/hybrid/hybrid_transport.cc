// Routing is decided once, at creation: a table of connections per peer, so a send or
// receive costs one indirect call, as with a single transport.
#include "transports/hybrid/hybrid_transport.h"

#include <string>
#include <utility>

#include "base/error.h"
#include "base/setup_channel.h"
#include "transports/hybrid/subset_channel.h"
#include "transports/shm/shm_transport.h"

namespace prism {

namespace {

class HybridTransport final : public Transport {
 public:
  HybridTransport(int rank, std::unique_ptr<Transport> shm, std::unique_ptr<Transport> net,
                  const std::vector<int>& hostOf)
      : rank_(rank),
        size_(static_cast<int>(hostOf.size())),
        name_(std::string("shm+") + net->name()),
        shm_(std::move(shm)),
        net_(std::move(net)),
        sends_(hostOf.size(), nullptr),
        recvs_(hostOf.size(), nullptr) {
    int local = 0;  // subset rank of each same-host peer, in ascending rank order
    for (int peer = 0; peer < size_; ++peer) {
      const bool sameHost = hostOf[static_cast<size_t>(peer)] == hostOf[static_cast<size_t>(rank)];
      if (peer == rank) {
        ++local;
        continue;
      }
      Transport& via = sameHost ? *shm_ : *net_;
      int index = sameHost ? local++ : peer;
      sends_[static_cast<size_t>(peer)] = &via.sendTo(index);
      recvs_[static_cast<size_t>(peer)] = &via.recvFrom(index);
    }
  }

  const char* name() const override { return name_.c_str(); }
  uint32_t caps() const override { return kCapNone; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  size_t slotBytes() const override { return shm_->slotBytes(); }
  int slotCount() const override { return shm_->slotCount(); }
  SendConnection& sendTo(int peer) override { return *checked(sends_, peer); }
  RecvConnection& recvFrom(int peer) override { return *checked(recvs_, peer); }
  void progress() override {
    shm_->progress();
    net_->progress();
  }
  void pauseProgress(ProgressPause why) override {
    shm_->pauseProgress(why);
    net_->pauseProgress(why);
  }
  // The network transport's threads ring this same doorbell (see createHybridTransport).
  Doorbell& doorbell() override { return shm_->doorbell(); }
  NetworkFigures networkFigures() const override { return net_->networkFigures(); }
  // Same-host peers read registered shared memory directly (the direct path); only the
  // network transport has a use for the registration.
  void* registerMemory(void* data, size_t bytes) override {
    return net_->registerMemory(data, bytes);
  }
  void deregisterMemory(void* handle) override { net_->deregisterMemory(handle); }

 private:
  template <typename T>
  T* checked(const std::vector<T*>& table, int peer) const {
    if (peer < 0 || peer >= size_ || table[static_cast<size_t>(peer)] == nullptr) [[unlikely]] {
      throw Error(ncclInvalidArgument, "transport of rank " + std::to_string(rank_) +
                                           " has no connection to peer " + std::to_string(peer));
    }
    return table[static_cast<size_t>(peer)];
  }

  int rank_;
  int size_;
  std::string name_;
  std::unique_ptr<Transport> shm_;  // owns the doorbell the network threads ring: destroyed last
  std::unique_ptr<Transport> net_;
  std::vector<SendConnection*> sends_;
  std::vector<RecvConnection*> recvs_;
};

}  // namespace

std::unique_ptr<Transport> createHybridTransport(SetupChannel& setup,
                                                 const ShmTransportOptions& shmOptions,
                                                 const RemoteTransportFactory& remoteFactory,
                                                 const std::vector<int>& hostOf) {
  check(hostOf.size() == static_cast<size_t>(setup.size()), ncclInternalError,
        "hybrid transport: host table has the wrong size");
  const int myHost = hostOf[static_cast<size_t>(setup.rank())];
  std::vector<int> members;
  std::vector<bool> remote(hostOf.size());
  for (size_t r = 0; r < hostOf.size(); ++r) {
    if (hostOf[r] == myHost) members.push_back(static_cast<int>(r));
    remote[r] = hostOf[r] != myHost;
  }
  // Every host builds its shared-memory transport at the same time, each over its own
  // ranks; the subset channel keeps the parent's allGather rounds in step.
  SubsetSetupChannel local(setup, members);
  ShmTransportOptions perHost = shmOptions;
  perHost.name += "-h" + std::to_string(myHost);
  std::unique_ptr<Transport> shm = createShmTransport(local, perHost);

  std::unique_ptr<Transport> net = remoteFactory(setup, shm::ownDoorbellBlock(*shm), remote);
  check(net->slotBytes() == shm->slotBytes() && net->slotCount() == shm->slotCount(),
        ncclInternalError, "hybrid transport: the two transports' slots differ");
  return std::make_unique<HybridTransport>(setup.rank(), std::move(shm), std::move(net), hostOf);
}

}  // namespace prism
