// The TCP transport: one Link (slot rings and sockets) per connected peer, divided among
// a few Engines. A rank waiting in a call moves its links' bytes itself in progress(); an
// Engine's I/O thread moves them while the rank sleeps or computes with bytes still to
// send, and rings the rank's doorbell when something arrives.
#include "transports/tcp/tcp_transport.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"
#include "transports/shm/futex_doorbell.h"
#include "transports/tcp/tcp_connect.h"
#include "transports/tcp/tcp_engine.h"
#include "transports/tcp/tcp_link.h"

namespace prism {

namespace {

constexpr int kMaxSetting = 16;
// How long destruction waits for committed messages to reach the kernel.
constexpr auto kDrainTimeout = std::chrono::seconds(10);

class TcpTransport final : public Transport {
 public:
  TcpTransport(int rank, int size, const TcpTransportOptions& options, tcp::PeerSockets sockets)
      : rank_(rank),
        size_(size),
        slotBytes_(options.slotBytes),
        slotCount_(options.slotCount),
        bell_(options.doorbell != nullptr ? options.doorbell : &ownBell_),
        doorbell_(bell_) {
    links_.byPeer.resize(static_cast<size_t>(size));
    std::vector<tcp::Link*> connected;
    for (int peer = 0; peer < size; ++peer) {
      auto& peerSockets = sockets[static_cast<size_t>(peer)];
      if (peerSockets.empty()) continue;
      auto& link = links_.byPeer[static_cast<size_t>(peer)];
      link = std::make_unique<tcp::Link>(rank, peer, slotBytes_, slotCount_, std::move(peerSockets),
                                         &links_, options.placement);
      connected.push_back(link.get());
    }
    // Peers are dealt to the threads round robin; each link belongs to one thread only.
    int threads = std::clamp(options.threads > 0 ? options.threads : 1, 1,
                             std::max(1, static_cast<int>(connected.size())));
    std::vector<std::vector<tcp::Link*>> shares(static_cast<size_t>(threads));
    for (size_t i = 0; i < connected.size(); ++i) {
      shares[i % static_cast<size_t>(threads)].push_back(connected[i]);
    }
    for (auto& share : shares) {
      if (!share.empty()) engines_.push_back(std::make_unique<tcp::Engine>(share, &links_, bell_));
    }
  }

  ~TcpTransport() override {
    for (auto& engine : engines_) engine->handBack();
    // Messages the rank committed may still sit in a ring: let the threads finish them,
    // then close each connection with a goodbye so the peer knows it was orderly.
    auto deadline = net::Clock::now() + kDrainTimeout;
    auto allDrained = [&] {
      for (const auto& link : links_.byPeer) {
        if (link && !link->drained()) return false;
      }
      return true;
    };
    while (!allDrained() && net::Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    engines_.clear();
    for (const auto& link : links_.byPeer) {
      if (link && link->drained()) link->sayGoodbye(net::Clock::now() + kDrainTimeout);
    }
  }

  const char* name() const override { return "tcp"; }
  uint32_t caps() const override { return kCapNone; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  size_t slotBytes() const override { return slotBytes_; }
  int slotCount() const override { return slotCount_; }
  SendConnection& sendTo(int peer) override { return link(peer); }
  RecvConnection& recvFrom(int peer) override { return link(peer); }
  Doorbell& doorbell() override { return doorbell_; }

  void progress() override {
    throwIfFailed();
    for (auto& engine : engines_) engine->drive();
    throwIfFailed();
  }

  void pauseProgress(ProgressPause why) override {
    for (auto& engine : engines_) {
      if (why == ProgressPause::CallEnd) engine->endCall();
      if (why == ProgressPause::Sleep || engine->sendsPending()) engine->handBack();
    }
  }

 private:
  void throwIfFailed() const {
    if (links_.failed.load(std::memory_order_acquire)) [[unlikely]]
      links_.throwFailure(rank_);
  }

  tcp::Link& link(int peer) {
    if (peer < 0 || peer >= size_ || !links_.byPeer[static_cast<size_t>(peer)]) [[unlikely]] {
      throw Error(ncclInvalidArgument, "tcp transport of rank " + std::to_string(rank_) +
                                           " has no connection to peer " + std::to_string(peer));
    }
    return *links_.byPeer[static_cast<size_t>(peer)];
  }

  int rank_;
  int size_;
  size_t slotBytes_;
  int slotCount_;
  shm::DoorbellBlock ownBell_{};
  shm::DoorbellBlock* bell_;
  shm::FutexDoorbell doorbell_;
  tcp::LinkSet links_;
  std::vector<std::unique_ptr<tcp::Engine>> engines_;  // declared last: stopped first
};

int settingInRange(config::Setting setting) {
  int64_t value = config::getInt(setting);
  check(value >= 0 && value <= kMaxSetting, ncclInvalidArgument,
        std::string(config::name(setting)) + " must be in [0, 16]");
  return static_cast<int>(value);
}

}  // namespace

void readTcpSettings(TcpTransportOptions& options) {
  options.threads = settingInRange(config::Setting::SocketNthreads);
  options.socketsPerPeer = settingInRange(config::Setting::NsocksPerThread);
  const int64_t placement = config::getInt(config::Setting::TcpPlacement);
  check(placement == 0 || placement == 1, ncclInvalidArgument,
        "PRISM_TCP_PLACEMENT must be 0 or 1");
  options.placement = placement == 1;
}

std::unique_ptr<Transport> createTcpTransport(SetupChannel& setup,
                                              const TcpTransportOptions& options,
                                              const std::vector<bool>& connect) {
  check(options.slotBytes >= 64 && options.slotBytes < tcp::kGoodbye && options.slotCount >= 1,
        ncclInvalidArgument, "tcp transport: bad slot size or count");
  tcp::ConnectResult connected =
      tcp::connectPeers(setup, connect, options.socketsPerPeer, options.connectTimeout);
  size_t sockets = 0;
  for (const auto& s : connected.sockets) sockets = std::max(sockets, s.size());
  log::info(log::kInit | log::kNet,
            "tcp transport %s rank %d: interface %s, %zu socket(s) per peer", options.name.c_str(),
            setup.rank(), connected.interfaceName.c_str(), sockets);
  return std::make_unique<TcpTransport>(setup.rank(), setup.size(), options,
                                        std::move(connected.sockets));
}

}  // namespace prism
