// The UCX transport: one Link per connected peer, one worker, one I/O thread. Set-up
// exchanges worker addresses over the setup channel, connects every endpoint, and flushes
// them so that connection failures show at creation, not in the first call. Teardown says
// goodbye to every peer and waits (bounded) for theirs, so that neither side takes the
// other's close for a failure.
#include "transports/ucx/ucx_transport.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <utility>

#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"
#include "transports/shm/futex_doorbell.h"
#include "transports/ucx/ucx_api.h"
#include "transports/ucx/ucx_engine.h"
#include "transports/ucx/ucx_link.h"
#include "transports/ucx/ucx_worker.h"

namespace prism {

namespace {

// How long teardown waits for sends to complete and for every peer's goodbye.
constexpr double kGoodbyeSeconds = 5.0;

/// Collective: throws on every rank, naming the first rank whose `failure` is not empty.
class UcxTransport final : public Transport {
 public:
  UcxTransport(int rank, int size, const UcxTransportOptions& options,
               const std::vector<bool>& connect)
      : rank_(rank),
        size_(size),
        slotBytes_(options.slotBytes),
        slotCount_(options.slotCount),
        bell_(options.doorbell != nullptr ? options.doorbell : &ownBell_),
        doorbell_(bell_),
        worker_(regionBytes(options, connect)),
        engine_(std::make_unique<ucx::Engine>(worker_, bell_, &links_.events,
                                              [this] { flushCredits(); })) {
    engine_->claim();  // the set-up below calls into the worker
    worker_.onActiveMessage(ucx::kDataMessage, &UcxTransport::onData, this);
    worker_.onActiveMessage(ucx::kCreditMessage, &UcxTransport::onCredit, this);
    worker_.onActiveMessage(ucx::kGoodbyeMessage, &UcxTransport::onGoodbye, this);
    links_.byPeer.resize(static_cast<size_t>(size));
    std::byte* next = worker_.region();
    const size_t ring = slotBytes_ * static_cast<size_t>(slotCount_);
    for (int peer = 0; peer < size; ++peer) {
      if (!connect[static_cast<size_t>(peer)]) continue;
      links_.byPeer[static_cast<size_t>(peer)] = std::make_unique<ucx::Link>(
          rank, peer, slotBytes_, slotCount_, next, next + ring, worker_, *engine_, links_);
      next += 2 * ring;
    }
  }

  ~UcxTransport() override {
    engine_->claim();
    for (auto& link : links_.byPeer) {
      if (link) link->sayGoodbye();
    }
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(kGoodbyeSeconds));
    auto everyoneLeft = [&] {
      for (auto& link : links_.byPeer) {
        if (link && link->connected() && !link->failed() && !link->saidGoodbye()) return false;
      }
      return true;
    };
    while (!everyoneLeft() && std::chrono::steady_clock::now() < deadline) {
      if (ucx::api().worker_progress(worker_.handle()) == 0) std::this_thread::yield();
    }
    (void)worker_.flush(1.0);
    engine_.reset();
    links_.byPeer.clear();  // frees their requests while the worker still exists
  }

  /// Exchanges addresses and connects. Collective: a rank that cannot create an endpoint
  /// fails every rank.
  void connect(SetupChannel& setup, std::chrono::seconds timeout) {
    std::vector<std::byte> mine = worker_.address();
    std::vector<uint64_t> lengths(static_cast<size_t>(size_));
    const uint64_t myLength = mine.size();
    setup.allGather(&myLength, lengths.data(), sizeof(uint64_t));
    const size_t width = *std::max_element(lengths.begin(), lengths.end());
    mine.resize(width);
    std::vector<std::byte> all(width * static_cast<size_t>(size_));
    setup.allGather(mine.data(), all.data(), width);
    std::vector<std::vector<std::byte>> addresses(static_cast<size_t>(size_));
    for (int peer = 0; peer < size_; ++peer) {
      if (!links_.byPeer[static_cast<size_t>(peer)]) continue;
      const std::byte* at = all.data() + static_cast<size_t>(peer) * width;
      addresses[static_cast<size_t>(peer)].assign(at, at + lengths[static_cast<size_t>(peer)]);
    }
    std::string failure;
    try {
      worker_.connect(addresses, &UcxTransport::onPeerFailure, this);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    throwIfAnyRankFailed(setup, failure, "ucx transport could not connect");
    lanes_.resize(static_cast<size_t>(size_));
    for (auto& link : links_.byPeer) {
      if (!link) continue;
      std::string& lanes = lanes_[static_cast<size_t>(link->peer())];
      lanes = worker_.describe(link->peer());
      if (ucxLanesAreSockets(lanes)) link->sendEagerly();
    }
    figures_ = estimateFigures();
    // Wires every endpoint up now: a peer that cannot be reached fails here.
    const bool wired = worker_.flush(static_cast<double>(timeout.count()));
    throwIfFailed();
    check(wired, ncclSystemError,
          "ucx transport: rank " + std::to_string(rank_) + " could not reach its peers in " +
              std::to_string(timeout.count()) + " s");
    // Peers still wiring up need this worker's answers while this rank goes on with the
    // rest of its set-up, which never calls progress().
    engine_->handBack();
  }

  void* registerMemory(void* data, size_t bytes) override {
    engine_->claim();
    return worker_.registerMemory(data, bytes);
  }
  void deregisterMemory(void* handle) override {
    engine_->claim();
    worker_.unregister(static_cast<ucp_mem_h>(handle));
  }

  /// UCX's description of its lanes to `peer` (ucp_ep_print_info), read once at connect;
  /// empty for a peer without a link.
  const std::string& lanes(int peer) const { return lanes_[static_cast<size_t>(peer)]; }

  const char* name() const override { return "ucx"; }
  NetworkFigures networkFigures() const override { return figures_; }
  uint32_t caps() const override { return kCapZeroCopy; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  size_t slotBytes() const override { return slotBytes_; }
  int slotCount() const override { return slotCount_; }
  SendConnection& sendTo(int peer) override { return link(peer); }
  RecvConnection& recvFrom(int peer) override { return link(peer); }
  Doorbell& doorbell() override { return doorbell_; }

  void progress() override {
    throwIfFailed();
    if (!engine_->drive()) flushCredits();
    throwIfFailed();
  }

  void pauseProgress(ProgressPause why) override {
    if (why == ProgressPause::CallEnd) {
      // Nothing more may land in the caller's buffers once the call returned.
      engine_->claim();
      for (auto& link : links_.byPeer) {
        if (link) link->forgetPlacement();
      }
    }
    if (!engine_->rankDrives()) return;
    if (why == ProgressPause::Sleep) flushCredits();
    if (why == ProgressPause::Sleep || sendsInFlight()) engine_->handBack();
  }

 private:
  static size_t regionBytes(const UcxTransportOptions& options, const std::vector<bool>& connect) {
    const size_t peers = static_cast<size_t>(std::count(connect.begin(), connect.end(), true));
    return std::max<size_t>(4096,
                            2 * peers * options.slotBytes * static_cast<size_t>(options.slotCount));
  }

  /// UCX's own latency and bandwidth to the slowest connected peer, from its estimates for
  /// a short and a long message (t = latency + bytes / bandwidth); zero where UCX gives no
  /// estimate for some peer.
  NetworkFigures estimateFigures() const {
    constexpr size_t kShort = 8;
    constexpr size_t kLong = size_t{4} << 20;
    NetworkFigures worst{0, 0};
    bool first = true;
    for (const auto& link : links_.byPeer) {
      if (!link) continue;
      const double small = worker_.estimatedSeconds(link->peer(), kShort);
      const double large = worker_.estimatedSeconds(link->peer(), kLong);
      if (small < 0 || large <= small) return {};
      const double bytesPerMicro = (kLong - kShort) / ((large - small) * 1e6);
      const double latencyMicros = std::max(0.0, small * 1e6 - kShort / bytesPerMicro);
      if (first || bytesPerMicro < worst.bytesPerMicro) worst.bytesPerMicro = bytesPerMicro;
      worst.latencyMicros = std::max(worst.latencyMicros, latencyMicros);
      first = false;
    }
    return worst;
  }

  /// Reports every link's unreported releases: the driving thread has nothing else to do.
  void flushCredits() {
    for (auto& link : links_.byPeer) {
      if (link) link->flushCredit();
    }
  }

  /// Whether a send is unfinished: a rendezvous waiting for the receiver, or bytes UCX
  /// accepted that still wait in its own queues. Only the I/O thread progresses them
  /// between calls.
  bool sendsInFlight() {
    for (auto& link : links_.byPeer) {
      if (link && link->sendsPending()) return true;
    }
    ucp_request_param_t param{};
    ucs_status_ptr_t request = ucx::api().worker_flush_nbx(worker_.handle(), &param);
    if (request == nullptr) return false;
    if (!UCS_PTR_IS_ERR(request)) ucx::api().request_free(request);
    return true;
  }

  void throwIfFailed() const {
    if (links_.failed.load(std::memory_order_acquire)) [[unlikely]]
      links_.throwFailure(rank_);
  }

  ucx::Link& link(int peer) {
    if (peer < 0 || peer >= size_ || !links_.byPeer[static_cast<size_t>(peer)]) [[unlikely]] {
      throw Error(ncclInvalidArgument, "ucx transport of rank " + std::to_string(rank_) +
                                           " has no connection to peer " + std::to_string(peer));
    }
    return *links_.byPeer[static_cast<size_t>(peer)];
  }

  ucx::Link* sender(const void* header, size_t length) {
    if (length < sizeof(uint32_t)) return nullptr;
    uint32_t from;
    std::memcpy(&from, header, sizeof(from));
    if (from >= static_cast<uint32_t>(size_)) return nullptr;
    return links_.byPeer[from].get();
  }

  static ucs_status_t onData(void* arg, const void* header, size_t headerLength, void* data,
                             size_t length, const ucp_am_recv_param_t* param) {
    auto* self = static_cast<UcxTransport*>(arg);
    ucx::Link* link = self->sender(header, headerLength);
    if (link == nullptr || headerLength != sizeof(ucx::DataHeader)) {
      log::warn("ucx transport: rank %d dropped a message with a bad header", self->rank_);
      return UCS_OK;
    }
    ucx::DataHeader h;
    std::memcpy(&h, header, sizeof(h));
    return link->deliver(h, data, length, param);
  }

  static ucs_status_t onCredit(void* arg, const void* header, size_t headerLength, void*, size_t,
                               const ucp_am_recv_param_t*) {
    auto* self = static_cast<UcxTransport*>(arg);
    ucx::Link* link = self->sender(header, headerLength);
    if (link == nullptr || headerLength != sizeof(ucx::CreditHeader)) return UCS_OK;
    ucx::CreditHeader h;
    std::memcpy(&h, header, sizeof(h));
    link->credit(h.released);
    return UCS_OK;
  }

  static ucs_status_t onGoodbye(void* arg, const void* header, size_t headerLength, void*, size_t,
                                const ucp_am_recv_param_t*) {
    auto* self = static_cast<UcxTransport*>(arg);
    if (ucx::Link* link = self->sender(header, headerLength)) link->goodbye();
    return UCS_OK;
  }

  static void onPeerFailure(void* arg, int peer, ucs_status_t status) {
    auto* self = static_cast<UcxTransport*>(arg);
    ucx::Link* link = self->links_.byPeer[static_cast<size_t>(peer)].get();
    // A peer that said goodbye closes its endpoint on purpose.
    if (link == nullptr || link->saidGoodbye()) return;
    link->fail(std::string("UCX reports ") + ucx::api().status_string(status));
  }

  int rank_;
  int size_;
  size_t slotBytes_;
  int slotCount_;
  shm::DoorbellBlock ownBell_{};
  shm::DoorbellBlock* bell_;
  shm::FutexDoorbell doorbell_;
  ucx::LinkSet links_;
  ucx::Worker worker_;
  std::unique_ptr<ucx::Engine> engine_;  // stopped first, in the destructor
  std::vector<std::string> lanes_;       // per peer, from connect()
  NetworkFigures figures_;               // UCX's estimates, from connect()
};

}  // namespace

bool ucxBuilt() { return true; }

std::unique_ptr<Transport> createUcxTransport(SetupChannel& setup,
                                              const UcxTransportOptions& options,
                                              const std::vector<bool>& connect) {
  check(options.slotBytes >= 64 && options.slotBytes <= UINT32_MAX && options.slotCount >= 1,
        ncclInvalidArgument, "ucx transport: bad slot size or count");
  check(connect.size() == static_cast<size_t>(setup.size()), ncclInternalError,
        "ucx transport: connection mask has the wrong size");
  // Creation can fail on one rank only (no usable UCX transport, no memory): every rank
  // learns who failed and why before anyone waits for a peer that will never connect.
  std::unique_ptr<UcxTransport> transport;
  std::string failure;
  try {
    transport = std::make_unique<UcxTransport>(setup.rank(), setup.size(), options, connect);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  throwIfAnyRankFailed(setup, failure, "ucx transport could not start");
  transport->connect(setup, options.connectTimeout);
  log::info(log::kInit | log::kNet, "ucx transport %s rank %d: connected to %zu peer(s)",
            options.name.c_str(), setup.rank(),
            static_cast<size_t>(std::count(connect.begin(), connect.end(), true)));
  return transport;
}

UcxReach ucxReach(Transport& transport) {
  auto& ucx = dynamic_cast<UcxTransport&>(transport);
  UcxReach reach;
  reach.rdma = true;
  bool any = false;
  for (int peer = 0; peer < ucx.size(); ++peer) {
    const std::string& info = ucx.lanes(peer);
    if (info.empty()) continue;
    any = true;
    const bool rdma = ucxLanesAreRdma(info);
    reach.rdma &= rdma;
    reach.summary += "peer " + std::to_string(peer) + (rdma ? ": rdma" : ": no rdma") + "; ";
  }
  reach.rdma &= any;
  return reach;
}

}  // namespace prism
