// Set-up, collective over the setup channel:
// 1. each rank opens its plugin context and listens once per connected peer;
// 2. the listen handles go round in one allGather (size x size handles);
// 3. each rank calls connect (to the handle its peer made for it) and accept (on the
//    listen it made for that peer) in turn until every comm exists, since neither may block;
// 4. any rank's failure fails every rank, naming the rank and the plugin's reason.
// Teardown exchanges goodbyes on every link, bounded, then closes them (net_link.h).
#include "transports/net_plugin/net_transport.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"
#include "prism/nccl_net_abi.h"
#include "transports/net_plugin/net_engine.h"
#include "transports/net_plugin/net_link.h"
#include "transports/net_plugin/net_plugin.h"
#include "transports/shm/futex_doorbell.h"

namespace prism {

namespace {

// How long teardown waits for the last sends and the peers' goodbyes.
constexpr double kCloseSeconds = 5.0;

std::string failed(const char* call, ncclResult_t r) {
  return std::string(call) + " failed with " + ncclGetErrorString(r);
}

/// The rings of every link, mapped and touched once.
class Region {
 public:
  explicit Region(size_t bytes) : bytes_(std::max<size_t>(bytes, 4096)) {
    void* at = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(at != MAP_FAILED, ncclSystemError,
          "net plugin transport: cannot map " + std::to_string(bytes_) + " bytes of slots");
    base_ = static_cast<std::byte*>(at);
    std::memset(base_, 0, bytes_);
  }
  ~Region() { munmap(base_, bytes_); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  std::byte* base() const { return base_; }

 private:
  size_t bytes_;
  std::byte* base_ = nullptr;
};

class NetTransport final : public Transport {
 public:
  NetTransport(int rank, int size, std::shared_ptr<net::Plugin> plugin,
               const NetTransportOptions& options, const std::vector<bool>& connect)
      : rank_(rank),
        size_(size),
        slotBytes_(options.slotBytes),
        slotCount_(options.slotCount),
        name_("net:" + plugin->name()),
        plugin_(std::move(plugin)),
        bell_(options.doorbell != nullptr ? options.doorbell : &ownBell_),
        doorbell_(bell_),
        region_(regionBytes(options, connect)),
        engine_(std::make_unique<net::Engine>(bell_, [this] { return pollAll(); })) {
    if (const ncclResult_t r = plugin_->openContext(options.commId, &context_); r != ncclSuccess) {
      throw Error(ncclSystemError, "plugin " + plugin_->name() + ": " + failed("init", r));
    }
    int devices = 0;
    if (const ncclResult_t r = plugin_->devices(&devices); r != ncclSuccess || devices <= 0) {
      throw Error(ncclSystemError, "plugin " + plugin_->name() + " reports no device");
    }
    dev_ = rank % devices;
    net::DeviceProperties props;
    if (const ncclResult_t r = plugin_->properties(dev_, &props); r != ncclSuccess) {
      throw Error(ncclSystemError, "plugin " + plugin_->name() + ": " + failed("getProperties", r));
    }
    check((props.ptrSupport & NCCL_PTR_HOST) != 0, ncclSystemError,
          "plugin " + plugin_->name() + " device " + std::to_string(dev_) +
              " cannot send from host memory");
    check(props.maxMessageBytes >= net::kSlotLead + slotBytes_, ncclSystemError,
          "plugin " + plugin_->name() + " cannot send messages of a slot's size");
    figures_.bytesPerMicro = props.speedMbps / 8.0;  // Mbit/s -> bytes per microsecond
    figures_.latencyMicros = props.latencyUs;
    device_ = props.name;
    const size_t ring = (net::kSlotLead + slotBytes_) * static_cast<size_t>(slotCount_);
    links_.resize(static_cast<size_t>(size));
    std::byte* next = region_.base();
    for (int peer = 0; peer < size; ++peer) {
      if (!connect[static_cast<size_t>(peer)]) continue;
      links_[static_cast<size_t>(peer)] = std::make_unique<net::Link>(
          rank, peer, slotBytes_, slotCount_, next, next + ring, *plugin_, *engine_);
      next += 2 * ring;
    }
  }

  ~NetTransport() override {
    engine_->claim();
    for (auto& link : links_) {
      if (link) link->leave();
    }
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(kCloseSeconds));
    auto everyoneLeft = [&] {
      return std::all_of(links_.begin(), links_.end(),
                         [](const auto& link) { return !link || link->left(); });
    };
    while (!everyoneLeft() && std::chrono::steady_clock::now() < deadline) {
      if (!pollAll()) std::this_thread::yield();
    }
    for (auto& link : links_) {
      if (link) link->close();
    }
    for (void* listen : listens_) {
      if (listen != nullptr) (void)plugin_->closeListen(listen);
    }
    engine_.reset();
    links_.clear();
    plugin_->closeContext(context_);
  }

  /// Listens, exchanges handles, connects and accepts. Collective.
  void connect(SetupChannel& setup, std::chrono::seconds timeout) {
    const size_t n = static_cast<size_t>(size_);
    std::vector<std::byte> mine(n * NCCL_NET_HANDLE_MAXSIZE);
    listens_.assign(n, nullptr);
    std::string failure;
    for (size_t peer = 0; peer < n && failure.empty(); ++peer) {
      if (!links_[peer]) continue;
      const ncclResult_t r =
          plugin_->listen(context_, dev_, &mine[peer * NCCL_NET_HANDLE_MAXSIZE], &listens_[peer]);
      if (r != ncclSuccess) failure = failed("listen", r);
    }
    throwIfAnyRankFailed(setup, failure, "net plugin transport could not listen");
    std::vector<std::byte> all(n * mine.size());
    setup.allGather(mine.data(), all.data(), mine.size());
    failure = connectAll(all, timeout);
    throwIfAnyRankFailed(setup, failure, "net plugin transport could not connect");
    for (void*& listen : listens_) {
      if (listen != nullptr) (void)plugin_->closeListen(listen);
      listen = nullptr;
    }
    for (auto& link : links_) {
      if (link && link->failed()) failure = link->failure();
    }
    throwIfAnyRankFailed(setup, failure, "net plugin transport could not register its slots");
    engine_->handBack();
  }

  const char* name() const override { return name_.c_str(); }
  uint32_t caps() const override { return kCapNone; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  size_t slotBytes() const override { return slotBytes_; }
  int slotCount() const override { return slotCount_; }
  SendConnection& sendTo(int peer) override { return link(peer); }
  RecvConnection& recvFrom(int peer) override { return link(peer); }
  Doorbell& doorbell() override { return doorbell_; }
  NetworkFigures networkFigures() const override { return figures_; }
  const std::string& device() const { return device_; }

  /// Failures surface where the rank needs the failed peer (net_link.h), not here.
  void progress() override { engine_->drive(); }

  void pauseProgress(ProgressPause why) override {
    if (!engine_->rankDrives()) return;
    if (why == ProgressPause::Sleep || sendsPending()) engine_->handBack();
  }

 private:
  /// Checks the slot shape first: nothing is mapped for a shape no plugin can carry.
  static size_t regionBytes(const NetTransportOptions& options, const std::vector<bool>& connect) {
    check(options.slotBytes >= 64 && options.slotBytes <= INT32_MAX - net::kSlotLead &&
              options.slotCount >= 1,
          ncclInvalidArgument, "net plugin transport: bad slot size or count");
    const size_t peers = static_cast<size_t>(std::count(connect.begin(), connect.end(), true));
    return 2 * peers * (net::kSlotLead + options.slotBytes) *
           static_cast<size_t>(options.slotCount);
  }

  /// Connects and accepts every link, neither call blocking; the failure, or empty.
  std::string connectAll(std::vector<std::byte>& handles, std::chrono::seconds timeout) {
    const size_t n = static_cast<size_t>(size_);
    std::vector<void*> sends(n, nullptr);
    std::vector<void*> recvs(n, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      bool pending = false;
      for (size_t peer = 0; peer < n; ++peer) {
        if (!links_[peer]) continue;
        std::byte* handle =
            &handles[(peer * n + static_cast<size_t>(rank_)) * NCCL_NET_HANDLE_MAXSIZE];
        if (sends[peer] == nullptr) {
          if (ncclResult_t r = plugin_->connect(context_, dev_, handle, &sends[peer]);
              r != ncclSuccess) {
            return failed("connect", r) + " (to rank " + std::to_string(peer) + ")";
          }
        }
        if (recvs[peer] == nullptr) {
          if (ncclResult_t r = plugin_->accept(listens_[peer], &recvs[peer]); r != ncclSuccess) {
            return failed("accept", r) + " (from rank " + std::to_string(peer) + ")";
          }
        }
        if (sends[peer] == nullptr || recvs[peer] == nullptr) {
          pending = true;
        } else if (links_[peer]->failure().empty() && !attached_[peer]) {
          links_[peer]->attach(sends[peer], recvs[peer]);
          attached_[peer] = true;
        }
      }
      if (!pending) return {};
      if (std::chrono::steady_clock::now() > deadline) {
        for (size_t peer = 0; peer < n; ++peer) {
          if (links_[peer] && (sends[peer] == nullptr || recvs[peer] == nullptr)) {
            return "no connection with rank " + std::to_string(peer) + " within " +
                   std::to_string(timeout.count()) + " s";
          }
        }
      }
      std::this_thread::yield();
    }
  }

  bool pollAll() {
    bool moved = false;
    for (auto& link : links_) {
      if (link && link->poll()) moved = true;
    }
    return moved;
  }

  bool sendsPending() const {
    return std::any_of(links_.begin(), links_.end(),
                       [](const auto& link) { return link && link->sendsPending(); });
  }

  net::Link& link(int peer) {
    if (peer < 0 || peer >= size_ || !links_[static_cast<size_t>(peer)]) [[unlikely]] {
      throw Error(ncclInvalidArgument, "net plugin transport of rank " + std::to_string(rank_) +
                                           " has no connection to peer " + std::to_string(peer));
    }
    return *links_[static_cast<size_t>(peer)];
  }

  int rank_;
  int size_;
  size_t slotBytes_;
  int slotCount_;
  std::string name_;
  std::shared_ptr<net::Plugin> plugin_;
  shm::DoorbellBlock ownBell_{};
  shm::DoorbellBlock* bell_;
  shm::FutexDoorbell doorbell_;
  Region region_;
  void* context_ = nullptr;
  int dev_ = 0;
  std::string device_;
  NetworkFigures figures_;
  std::vector<std::unique_ptr<net::Link>> links_;
  std::vector<void*> listens_;
  std::vector<bool> attached_ = std::vector<bool>(static_cast<size_t>(size_), false);
  std::unique_ptr<net::Engine> engine_;  // stopped first, in the destructor
};

}  // namespace

std::unique_ptr<Transport> createNetTransport(SetupChannel& setup,
                                              std::shared_ptr<net::Plugin> plugin,
                                              const NetTransportOptions& options,
                                              const std::vector<bool>& connect) {
  check(connect.size() == static_cast<size_t>(setup.size()), ncclInternalError,
        "net plugin transport: connection mask has the wrong size");
  std::unique_ptr<NetTransport> transport;
  std::string failure;
  try {
    transport = std::make_unique<NetTransport>(setup.rank(), setup.size(), std::move(plugin),
                                               options, connect);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  throwIfAnyRankFailed(setup, failure, "net plugin transport could not start");
  transport->connect(setup, options.connectTimeout);
  log::info(log::kInit | log::kNet,
            "net plugin transport %s rank %d: %s device %s, connected to %zu peer(s)",
            options.name.c_str(), setup.rank(), transport->name(), transport->device().c_str(),
            static_cast<size_t>(std::count(connect.begin(), connect.end(), true)));
  return transport;
}

}  // namespace prism
