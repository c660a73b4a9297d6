#include "src/bootstrap/root.h"

#include <poll.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "base/byte_order.h"
#include "base/error.h"
#include "base/log.h"
#include "base/random.h"
#include "src/bootstrap/protocol.h"

namespace prism::bootstrap {

namespace {

// Connections that have not proven the secret are cheap to open; cap them so a flood
// cannot exhaust the root's descriptors.
constexpr size_t kMaxUnprovenConnections = 512;
// An error frame is small; a peer that will not read it for this long is simply closed.
constexpr auto kFlushTimeout = std::chrono::seconds(2);
constexpr size_t kReadChunk = 64 * 1024;
/// Refused connections are reported at most this often (log::alert).
constexpr auto kRefusedReportInterval = std::chrono::seconds(60);
/// Connections accepted per event-loop pass, so a flood cannot stall the ranks' traffic.
constexpr int kAcceptsPerPass = 256;

using Buffer = std::shared_ptr<const std::vector<uint8_t>>;

enum class Phase { Proving, Registering, Registered, Closing };

struct Conn {
  net::Socket sock;
  net::SocketAddress peer;
  Phase phase = Phase::Proving;
  Nonce nonce{};
  net::Deadline deadline;  // Proving/Registering: handshake limit; Closing: flush limit
  std::vector<uint8_t> in;
  std::deque<Buffer> out;  // result frames are shared by every rank's queue
  size_t outOffset = 0;
  int rank = -1;      // >= 0 exactly while this connection is a live registered rank
  bool dead = false;  // erased at the end of the event-loop iteration
};

enum class RankState { Absent, Live, Left };

class Root {
 public:
  Root(net::Socket listener, const Secret& secret, net::Clock::duration timeout)
      : listener_(std::move(listener)),
        secret_(secret),
        timeout_(timeout),
        address_(listener_.localAddress().toString()),
        idleDeadline_(net::Clock::now() + timeout) {}

  void run();

 private:
  bool allRegistered() const { return nranks_ > 0 && registered_ == nranks_; }
  bool finished() const;
  net::Deadline nextWake() const;
  void acceptPending();
  void readFrom(Conn& c);
  void writeTo(Conn& c);
  void onClosed(Conn& c);
  void checkProof(Conn& c);
  void parseFrames(Conn& c);
  void onRegister(Conn& c, const uint8_t* p);
  void onGather(Conn& c, const uint8_t* p, size_t n);
  void completeRound();
  void failRound(const std::string& reason);
  void expire();
  void queue(Conn& c, Buffer frame);
  void reject(Conn& c, ncclResult_t code, const std::string& reason);
  void drop(Conn& c, const std::string& why, bool warn);
  /// Writes the count of refused connections (log::alert) if a minute has passed since
  /// the last report, or at once when `final`.
  void reportRefused(bool final);
  void retire(Conn& c);

  net::Socket listener_;
  Secret secret_;
  net::Clock::duration timeout_;
  std::string address_;
  std::vector<std::unique_ptr<Conn>> conns_;
  net::Deadline idleDeadline_;  // moves forward on every registration and contribution
  net::Deadline acceptPausedUntil_{};
  uint64_t refused_ = 0;               // connections refused since the last report
  std::string lastRefused_;            // who and why, the latest of them
  net::Deadline nextRefusedReport_{};  // the first refusal is reported at once
  bool shuttingDown_ = false;

  int nranks_ = 0;  // fixed by the first registration
  int registered_ = 0;
  int live_ = 0;
  std::vector<RankState> ranks_;
  std::vector<Conn*> rankConn_;
  std::string broken_;  // once a rank leaves, every later round fails with this reason

  uint64_t round_ = 0;
  bool roundOpen_ = false;
  size_t roundBytes_ = 0;
  int roundCount_ = 0;
  std::vector<bool> roundHave_;
  std::shared_ptr<std::vector<uint8_t>> roundFrame_;  // the GatherResult being assembled
};

bool Root::finished() const {
  for (const auto& c : conns_) {
    if (c->phase == Phase::Closing) return false;  // let error frames reach their ranks
  }
  return shuttingDown_ || (allRegistered() && live_ == 0);
}

net::Deadline Root::nextWake() const {
  net::Deadline wake = net::Clock::now() + std::chrono::seconds(1);
  if (!allRegistered() && !shuttingDown_ && idleDeadline_ < wake) wake = idleDeadline_;
  for (const auto& c : conns_) {
    if (c->phase != Phase::Registered && c->deadline < wake) wake = c->deadline;
  }
  return wake;
}

void Root::run() {
  std::vector<pollfd> fds;
  while (!finished()) {
    fds.clear();
    bool accepting = !shuttingDown_ && net::Clock::now() >= acceptPausedUntil_;
    fds.push_back({listener_.fd(), static_cast<short>(accepting ? POLLIN : 0), 0});
    for (const auto& c : conns_) {
      short events = c->phase == Phase::Closing ? 0 : POLLIN;
      if (!c->out.empty()) events |= POLLOUT;
      fds.push_back({c->sock.fd(), events, 0});
    }
    int rc = ::poll(fds.data(), fds.size(), net::millisUntil(nextWake()));
    if (rc < 0 && errno != EINTR) throwSystemError("bootstrap root: poll");
    // conns_ only grows in acceptPending, after this loop, so indices match fds.
    for (size_t i = 0; rc > 0 && i < conns_.size(); ++i) {
      Conn& c = *conns_[i];
      short revents = fds[i + 1].revents;
      if (!c.dead && (revents & (POLLIN | POLLHUP | POLLERR))) {
        if (c.phase == Phase::Closing) {
          drop(c, "closed before reading the error", false);
        } else {
          readFrom(c);
        }
      }
      if (!c.dead && (revents & POLLOUT)) writeTo(c);
    }
    if (rc > 0 && (fds[0].revents & POLLIN)) acceptPending();
    expire();
    std::erase_if(conns_, [](const auto& c) { return c->dead; });
  }
  reportRefused(true);
  log::info(log::kBootstrap, "bootstrap: root at %s done after %llu allGather rounds",
            address_.c_str(), static_cast<unsigned long long>(round_));
}

void Root::acceptPending() {
  try {
    for (int accepted = 0; accepted < kAcceptsPerPass; ++accepted) {
      net::SocketAddress peer;
      net::Socket s = listener_.accept(&peer);
      if (!s) return;
      // A full table evicts its oldest unproven connection rather than refusing the new
      // one: a flood of idle connections then cannot lock the ranks out.
      size_t unproven = 0;
      Conn* oldest = nullptr;
      for (const auto& c : conns_) {
        if (c->dead || c->phase != Phase::Proving) continue;
        ++unproven;
        if (oldest == nullptr || c->deadline < oldest->deadline) oldest = c.get();
      }
      if (unproven >= kMaxUnprovenConnections && oldest != nullptr) {
        drop(*oldest, "evicted unproven (the table of unproven connections is full)", true);
      }
      auto c = std::make_unique<Conn>();
      c->sock = std::move(s);
      c->peer = peer;
      c->deadline = net::Clock::now() + kProofDeadline;
      fillRandom(c->nonce.data(), c->nonce.size());
      conns_.push_back(std::move(c));
      Conn& added = *conns_.back();
      queue(added, std::make_shared<std::vector<uint8_t>>(added.nonce.begin(), added.nonce.end()));
    }
  } catch (const Error& e) {
    // Typically EMFILE: back off instead of spinning on a listener that stays readable.
    log::warn("bootstrap: root at %s cannot accept: %s", address_.c_str(), e.what());
    acceptPausedUntil_ = net::Clock::now() + std::chrono::milliseconds(100);
  }
}

void Root::readFrom(Conn& c) {
  try {
    // Bounded, so one busy rank cannot starve the others within an iteration.
    for (int burst = 0; burst < 16 && !c.dead && c.phase != Phase::Closing; ++burst) {
      // Until the proof checks out, read exactly the proof and the client's nonce, and
      // not one byte more.
      size_t want =
          c.phase == Phase::Proving ? kProofBytes + kNonceBytes - c.in.size() : kReadChunk;
      size_t had = c.in.size();
      c.in.resize(had + want);
      bool closed = false;
      size_t got = c.sock.recvSome(c.in.data() + had, want, &closed);
      c.in.resize(had + got);
      if (closed) return onClosed(c);
      if (got == 0) return;
      if (c.phase == Phase::Proving) {
        // The proof is judged as soon as it is complete, before the nonce arrives.
        if (had < kProofBytes && c.in.size() >= kProofBytes &&
            !proofMatches(computeProof(secret_, c.nonce), c.in.data())) {
          return drop(c, "bad secret", true);
        }
        if (c.in.size() == kProofBytes + kNonceBytes) checkProof(c);
      } else {
        parseFrames(c);
      }
    }
  } catch (const Error& e) {
    drop(c, e.what(), c.phase != Phase::Registered);
  }
}

void Root::writeTo(Conn& c) {
  try {
    while (!c.out.empty()) {
      const auto& frame = *c.out.front();
      size_t sent = c.sock.sendSome(frame.data() + c.outOffset, frame.size() - c.outOffset);
      if (sent == 0) return;
      c.outOffset += sent;
      if (c.outOffset == frame.size()) {
        c.out.pop_front();
        c.outOffset = 0;
      }
    }
    if (c.phase == Phase::Closing) c.dead = true;
  } catch (const Error& e) {
    drop(c, e.what(), false);
  }
}

void Root::onClosed(Conn& c) {
  switch (c.phase) {
    case Phase::Proving:
      return drop(c, "closed before proving the secret", true);
    case Phase::Registering:
      return drop(c, "closed before registering", false);
    default:
      return drop(c, "rank " + std::to_string(c.rank) + " disconnected", false);
  }
}

void Root::checkProof(Conn& c) {
  if (!proofMatches(computeProof(secret_, c.nonce), c.in.data())) {
    return drop(c, "bad secret", true);
  }
  Nonce theirs;
  std::copy(c.in.begin() + kProofBytes, c.in.begin() + kProofBytes + kNonceBytes, theirs.begin());
  c.in.clear();
  c.phase = Phase::Registering;
  c.deadline = net::Clock::now() + timeout_;
  const Proof mine = computeRootProof(secret_, theirs);
  queue(c, std::make_shared<std::vector<uint8_t>>(mine.begin(), mine.end()));
}

void Root::parseFrames(Conn& c) {
  size_t pos = 0;
  while (!c.dead && c.phase != Phase::Closing && c.in.size() - pos >= kFrameHeaderBytes) {
    FrameHeader h;
    if (!decodeFrameHeader(c.in.data() + pos, &h)) return drop(c, "malformed frame", true);
    if (c.in.size() - pos - kFrameHeaderBytes < h.length) break;
    const uint8_t* payload = c.in.data() + pos + kFrameHeaderBytes;
    if (c.phase == Phase::Registering && h.type == MsgType::Register && h.length == 8) {
      onRegister(c, payload);
    } else if (c.phase == Phase::Registered && h.type == MsgType::Gather && h.length >= 8) {
      onGather(c, payload, h.length);
    } else {
      log::warn("bootstrap: unexpected message type %u from %s", static_cast<unsigned>(h.type),
                c.peer.toString().c_str());
      reject(c, ncclInternalError, "bootstrap: unexpected message");
    }
    pos += kFrameHeaderBytes + h.length;
  }
  if (!c.dead && c.phase != Phase::Closing) {
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<ptrdiff_t>(pos));
  }
}

void Root::onRegister(Conn& c, const uint8_t* p) {
  int rank = static_cast<int32_t>(loadLe(p, 4));
  int nranks = static_cast<int32_t>(loadLe(p + 4, 4));
  std::string who = "rank " + std::to_string(rank);
  if (nranks < 1) {
    return reject(c, ncclInvalidArgument,
                  who + ": nranks " + std::to_string(nranks) + " is not positive");
  }
  if (nranks_ == 0) {
    nranks_ = nranks;
    ranks_.assign(nranks, RankState::Absent);
    rankConn_.assign(nranks, nullptr);
    roundHave_.assign(nranks, false);
  } else if (nranks != nranks_) {
    return reject(c, ncclInvalidUsage,
                  who + " registered with nranks " + std::to_string(nranks) +
                      " but earlier ranks of this unique id used " + std::to_string(nranks_));
  }
  if (rank < 0 || rank >= nranks) {
    return reject(c, ncclInvalidArgument,
                  who + " is out of range [0, " + std::to_string(nranks) + ")");
  }
  if (ranks_[rank] != RankState::Absent) {
    return reject(c, ncclInvalidUsage, who + " is already registered with this unique id");
  }
  ranks_[rank] = RankState::Live;
  rankConn_[rank] = &c;
  c.rank = rank;
  c.phase = Phase::Registered;
  ++registered_;
  ++live_;
  idleDeadline_ = net::Clock::now() + timeout_;
  queue(c, std::make_shared<std::vector<uint8_t>>(makeFrame(MsgType::Ok, {})));
  log::info(log::kBootstrap, "bootstrap: rank %d of %d registered from %s (%d/%d)", rank, nranks_,
            c.peer.toString().c_str(), registered_, nranks_);
}

void Root::onGather(Conn& c, const uint8_t* p, size_t n) {
  uint64_t seq = loadLe(p, 8);
  const uint8_t* blob = p + 8;
  size_t bytes = n - 8;
  std::string where = "allGather round " + std::to_string(seq);
  if (!broken_.empty()) return reject(c, ncclRemoteError, broken_ + " before " + where);
  if (seq != round_ || roundHave_[c.rank]) {
    return reject(c, ncclInvalidUsage,
                  "bootstrap: rank " + std::to_string(c.rank) + " sent " + where +
                      " while the communicator is at round " + std::to_string(round_));
  }
  if (!roundOpen_) {
    roundOpen_ = true;
    roundBytes_ = bytes;
    // The result frame is assembled in place: header, round, then each blob at its rank.
    size_t total = 8 + bytes * static_cast<size_t>(nranks_);
    roundFrame_ = std::make_shared<std::vector<uint8_t>>(kFrameHeaderBytes + total);
    auto header = encodeFrameHeader(MsgType::GatherResult, total);
    std::memcpy(roundFrame_->data(), header.data(), header.size());
    storeLe(roundFrame_->data() + kFrameHeaderBytes, seq, 8);
  } else if (bytes != roundBytes_) {
    std::string reason = "bootstrap: " + where + ": rank " + std::to_string(c.rank) +
                         " contributed " + std::to_string(bytes) + " bytes, others " +
                         std::to_string(roundBytes_);
    failRound(reason);
    return reject(c, ncclInvalidUsage, reason);
  }
  size_t offset = kFrameHeaderBytes + 8 + bytes * static_cast<size_t>(c.rank);
  if (bytes > 0) std::memcpy(roundFrame_->data() + offset, blob, bytes);
  roundHave_[c.rank] = true;
  idleDeadline_ = net::Clock::now() + timeout_;
  if (++roundCount_ == nranks_) completeRound();
}

void Root::completeRound() {
  Buffer frame = std::move(roundFrame_);
  roundOpen_ = false;
  roundCount_ = 0;
  roundHave_.assign(nranks_, false);
  ++round_;
  for (Conn* c : rankConn_) {
    if (c != nullptr) queue(*c, frame);
  }
}

void Root::failRound(const std::string& reason) {
  std::vector<Conn*> waiting;
  for (int r = 0; r < nranks_; ++r) {
    if (roundHave_[r] && rankConn_[r] != nullptr) waiting.push_back(rankConn_[r]);
  }
  if (broken_.empty()) broken_ = reason;
  roundOpen_ = false;
  roundCount_ = 0;
  roundHave_.assign(nranks_, false);
  roundFrame_.reset();
  for (Conn* c : waiting) reject(*c, ncclRemoteError, reason);
}

void Root::reportRefused(bool final) {
  if (refused_ == 0) return;
  const net::Deadline now = net::Clock::now();
  if (!final && now < nextRefusedReport_) return;
  log::alert(
      "bootstrap: root at %s refused %llu connection(s) that did not prove the job's "
      "secret or took too long; the latest from %s",
      address_.c_str(), static_cast<unsigned long long>(refused_), lastRefused_.c_str());
  refused_ = 0;
  nextRefusedReport_ = now + kRefusedReportInterval;
}

void Root::expire() {
  reportRefused(false);
  net::Deadline now = net::Clock::now();
  for (auto& c : conns_) {
    if (c->dead || c->phase == Phase::Registered || now < c->deadline) continue;
    if (c->phase == Phase::Proving) {
      drop(*c, "timed out before proving the secret", true);
    } else if (c->phase == Phase::Registering) {
      drop(*c, "timed out before registering", true);
    } else {
      drop(*c, "did not read its error reply", false);
    }
  }
  if (shuttingDown_ || allRegistered() || now < idleDeadline_) return;
  shuttingDown_ = true;
  if (nranks_ == 0) {
    // An id that nobody used (a test, an aborted launch) is not worth a warning.
    log::info(log::kBootstrap, "bootstrap: root at %s unused; exiting", address_.c_str());
    return;
  }
  // Registration stalled: tell the waiting ranks who is missing instead of letting them
  // time out without a reason, then exit.
  std::string missing;
  for (int r = 0; r < nranks_; ++r) {
    if (ranks_[r] == RankState::Absent) missing += (missing.empty() ? "" : ",") + std::to_string(r);
  }
  std::string reason = "bootstrap: only " + std::to_string(registered_) + " of " +
                       std::to_string(nranks_) + " ranks registered at " + address_ +
                       "; missing ranks: " + missing;
  log::warn("%s; root giving up", reason.c_str());
  for (auto& c : conns_) {
    if (c->phase == Phase::Registered) reject(*c, ncclSystemError, reason);
  }
}

void Root::queue(Conn& c, Buffer frame) {
  c.out.push_back(std::move(frame));
  writeTo(c);
}

void Root::reject(Conn& c, ncclResult_t code, const std::string& reason) {
  const char* text = reason.c_str();
  if (reason.starts_with("bootstrap: ")) text += std::strlen("bootstrap: ");
  log::warn("bootstrap: rejected %s: %s", c.peer.toString().c_str(), text);
  retire(c);
  std::vector<uint8_t> codeBytes(4);
  storeLe(codeBytes.data(), static_cast<uint32_t>(code), 4);
  c.phase = Phase::Closing;
  c.deadline = net::Clock::now() + kFlushTimeout;
  c.in.clear();
  queue(c, std::make_shared<std::vector<uint8_t>>(
               makeFrame(MsgType::Error, codeBytes, reason.data(), reason.size())));
}

void Root::drop(Conn& c, const std::string& why, bool warn) {
  if (warn) {
    // Refused strangers: each at INFO, and a count at most once a minute at WARN even
    // with logging off, so a probe or a flood is seen without flooding the log itself.
    log::info(log::kBootstrap, "bootstrap: dropped connection from %s: %s",
              c.peer.toString().c_str(), why.c_str());
    ++refused_;
    lastRefused_ = c.peer.toString() + " (" + why + ")";
    reportRefused(false);
  } else {
    log::info(log::kBootstrap, "bootstrap: closed connection from %s: %s",
              c.peer.toString().c_str(), why.c_str());
  }
  retire(c);
  c.dead = true;
}

// A registered rank stops being part of the communicator. A rank only leaves mid-round
// if it failed, and the round can then never deliver a result: fail it now so the
// waiting ranks learn why instead of timing out.
void Root::retire(Conn& c) {
  if (c.rank < 0) return;
  int r = c.rank;
  c.rank = -1;
  rankConn_[r] = nullptr;
  ranks_[r] = RankState::Left;
  --live_;
  std::string reason = "bootstrap: rank " + std::to_string(r) + " disconnected";
  if (roundOpen_) {
    failRound(reason + " during allGather round " + std::to_string(round_));
  } else if (broken_.empty()) {
    broken_ = reason;
  }
}

}  // namespace

RootStatus startRoot(net::Socket listener, const Secret& secret, net::Clock::duration timeout) {
  auto root = std::make_unique<Root>(std::move(listener), secret, timeout);
  auto running = std::make_shared<std::atomic<bool>>(true);
  try {
    std::thread([root = std::move(root), running]() mutable {
      try {
        root->run();
      } catch (const std::exception& e) {
        log::warn("bootstrap: root stopped: %s", e.what());
      }
      root.reset();  // closes every socket before the root counts as stopped
      running->store(false);
    }).detach();
  } catch (const std::system_error& e) {
    throw Error(ncclSystemError, std::string("bootstrap: cannot start root thread: ") + e.what());
  }
  return RootStatus(running);
}

}  // namespace prism::bootstrap
