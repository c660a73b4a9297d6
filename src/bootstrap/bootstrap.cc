#include "src/bootstrap/bootstrap.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "base/byte_order.h"
#include "base/config.h"
#include "base/error.h"
#include "base/interfaces.h"
#include "base/log.h"
#include "base/random.h"
#include "src/bootstrap/protocol.h"
#include "src/bootstrap/root.h"
#include "src/bootstrap/unique_id.h"

namespace prism {

namespace {

using namespace bootstrap;

// Why an attempt failed when something answered at the root's address without the secret.
constexpr const char* kImpostor =
    "the process at the root's address did not prove that it knows the secret";

// Longer reasons are truncated: an error frame is one line for a log.
constexpr uint64_t kMaxErrorBytes = 4096;

std::chrono::seconds secondsSetting(config::Setting s) {
  return std::chrono::seconds(std::max<int64_t>(config::getInt(s), 1));
}

// Reads an Error frame's payload (header already read) and returns it as an exception.
Error readRootError(net::Socket& socket, uint64_t length, net::Deadline deadline,
                    const std::string& context) {
  std::vector<uint8_t> payload(std::min(length, kMaxErrorBytes));
  if (length < 4 || length > kMaxErrorBytes ||
      !socket.recvAll(payload.data(), payload.size(), deadline).ok()) {
    return Error(ncclRemoteError, context + ": the bootstrap root reported an unreadable error");
  }
  auto code = static_cast<ncclResult_t>(loadLe(payload.data(), 4));
  if (code <= ncclSuccess || code >= ncclNumResults) code = ncclRemoteError;
  return Error(code, std::string(payload.begin() + 4, payload.end()));
}

class BootstrapChannel final : public SetupChannel {
 public:
  BootstrapChannel(net::Socket socket, int rank, int nranks, std::string root,
                   net::Clock::duration timeout)
      : socket_(std::move(socket)),
        rank_(rank),
        nranks_(nranks),
        root_(std::move(root)),
        timeout_(timeout) {}

  int rank() const override { return rank_; }
  int size() const override { return nranks_; }
  void allGather(const void* mine, void* all, size_t bytes) override;

 private:
  [[noreturn]] void fail(ncclResult_t code, const std::string& reason) {
    // The stream position is unknown after a failure, so the channel stays failed.
    failure_ = reason;
    throw Error(code, reason);
  }
  [[noreturn]] void failIo(const net::IoStatus& status, const std::string& round);

  net::Socket socket_;
  int rank_;
  int nranks_;
  std::string root_;
  net::Clock::duration timeout_;
  uint64_t round_ = 0;
  std::string failure_;
};

void BootstrapChannel::failIo(const net::IoStatus& status, const std::string& round) {
  std::string who = " (rank " + std::to_string(rank_) + " of " + std::to_string(nranks_) +
                    ", root " + root_ + ")";
  if (status.kind == net::IoStatus::Kind::Timeout) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout_).count();
    fail(ncclSystemError, round + " timed out after " + std::to_string(secs) + " s" + who);
  }
  if (status.kind == net::IoStatus::Kind::Closed) {
    fail(ncclRemoteError, round + ": the bootstrap root closed the connection" + who);
  }
  fail(ncclSystemError, round + ": " + status.describe() + who);
}

void BootstrapChannel::allGather(const void* mine, void* all, size_t bytes) {
  check(failure_.empty(), ncclInvalidUsage,
        "bootstrap channel unusable after an earlier failure: " + failure_);
  check(bytes <= (kMaxPayloadBytes - 8) / static_cast<uint64_t>(nranks_), ncclInvalidArgument,
        "bootstrap allGather of " + std::to_string(bytes) + " bytes per rank is too large");
  const std::string round = "bootstrap allGather round " + std::to_string(round_);
  net::Deadline deadline = net::Clock::now() + timeout_;

  uint8_t head[kFrameHeaderBytes + 8];
  auto header = encodeFrameHeader(MsgType::Gather, 8 + bytes);
  std::copy(header.begin(), header.end(), head);
  storeLe(head + kFrameHeaderBytes, round_, 8);
  net::IoStatus st = socket_.sendAll(head, sizeof(head), deadline);
  if (st.ok() && bytes > 0) st = socket_.sendAll(mine, bytes, deadline);
  if (!st.ok()) failIo(st, round);

  uint8_t replyHead[kFrameHeaderBytes];
  if (!(st = socket_.recvAll(replyHead, sizeof(replyHead), deadline)).ok()) failIo(st, round);
  FrameHeader reply;
  if (!decodeFrameHeader(replyHead, &reply)) fail(ncclInternalError, round + ": malformed reply");
  if (reply.type == MsgType::Error) {
    Error e = readRootError(socket_, reply.length, deadline, round);
    fail(e.code(), std::string(e.what()) + " (rank " + std::to_string(rank_) + ")");
  }
  uint64_t total = static_cast<uint64_t>(bytes) * static_cast<uint64_t>(nranks_);
  if (reply.type != MsgType::GatherResult || reply.length != 8 + total) {
    fail(ncclInternalError, round +
                                ": unexpected reply from the root (did every rank pass the "
                                "same size?)");
  }
  uint8_t seq[8];
  if (!(st = socket_.recvAll(seq, sizeof(seq), deadline)).ok()) failIo(st, round);
  if (loadLe(seq, 8) != round_) fail(ncclInternalError, round + ": reply for another round");
  if (total > 0 && !(st = socket_.recvAll(all, total, deadline)).ok()) failIo(st, round);
  ++round_;
}

// One attempt at the proof and the registration. Returns "" on success or why the attempt
// failed (worth retrying: the root may not be up yet). A rejection by the root is final
// and thrown.
std::string handshake(net::Socket& socket, const Secret& secret, int rank, int nranks,
                      net::Deadline deadline) {
  Nonce nonce;
  net::IoStatus st = socket.recvAll(nonce.data(), nonce.size(), deadline);
  if (!st.ok()) return "waiting for the challenge: " + st.describe();
  Proof proof = computeProof(secret, nonce);
  Nonce mine;
  fillRandom(mine.data(), mine.size());
  std::vector<uint8_t> message(proof.begin(), proof.end());
  message.insert(message.end(), mine.begin(), mine.end());
  if (!(st = socket.sendAll(message.data(), message.size(), deadline)).ok()) {
    return "sending the proof: " + st.describe();
  }
  // Nothing about this rank leaves before the root has proved that it knows the secret.
  Proof rootProof;
  if (!(st = socket.recvAll(rootProof.data(), rootProof.size(), deadline)).ok()) {
    return "waiting for the root's proof: " + st.describe() +
           " (wrong secret, or the root has exited?)";
  }
  if (!proofMatches(computeRootProof(secret, mine), rootProof.data())) {
    return kImpostor;
  }
  std::vector<uint8_t> registration(8);
  storeLe(registration.data(), static_cast<uint32_t>(rank), 4);
  storeLe(registration.data() + 4, static_cast<uint32_t>(nranks), 4);
  auto frame = makeFrame(MsgType::Register, registration);
  if (!(st = socket.sendAll(frame.data(), frame.size(), deadline)).ok()) {
    return "registering: " + st.describe();
  }
  uint8_t replyHead[kFrameHeaderBytes];
  if (!(st = socket.recvAll(replyHead, sizeof(replyHead), deadline)).ok()) {
    return "registering: " + st.describe() + " (wrong secret, or the root has exited?)";
  }
  FrameHeader reply;
  if (!decodeFrameHeader(replyHead, &reply)) return "registering: malformed reply";
  if (reply.type == MsgType::Error) throw readRootError(socket, reply.length, deadline, "");
  if (reply.type != MsgType::Ok || reply.length != 0) return "registering: unexpected reply";
  return "";
}

}  // namespace

void createUniqueId(ncclUniqueId* id) {
  check(id != nullptr, ncclInvalidArgument, "unique id pointer is null");
  std::string spec = config::getString(config::Setting::SocketIfname);
  auto chosen = net::selectInterface(net::listInterfaces(), spec);
  if (!chosen) {
    throw Error(ncclSystemError, spec.empty() ? "bootstrap: no up IPv4 interface, not even loopback"
                                              : "bootstrap: no up IPv4 interface matches " +
                                                    config::source(config::Setting::SocketIfname) +
                                                    "=" + spec);
  }
  net::Socket listener = net::Socket::listen(chosen->address);
  UniqueIdFields fields;
  fields.root = listener.localAddress();
  fillRandom(fields.secret.data(), fields.secret.size());
  encodeUniqueId(fields, id);
  startRoot(std::move(listener), fields.secret, secondsSetting(config::Setting::BootstrapTimeout));
  log::info(log::kBootstrap | log::kInit, "bootstrap: root listening on %s (interface %s)",
            fields.root.toString().c_str(), chosen->name.c_str());
}

void validateUniqueId(const ncclUniqueId& id) { decodeUniqueId(id); }

std::unique_ptr<SetupChannel> connectBootstrap(const ncclUniqueId& id, int rank, int nranks) {
  UniqueIdFields fields = decodeUniqueId(id);
  check(nranks >= 1, ncclInvalidArgument, "nranks " + std::to_string(nranks) + " < 1");
  check(rank >= 0 && rank < nranks, ncclInvalidArgument,
        "rank " + std::to_string(rank) + " out of range [0, " + std::to_string(nranks) + ")");
  const auto connectTimeout = secondsSetting(config::Setting::BootstrapTimeout);
  const net::Deadline deadline = net::Clock::now() + connectTimeout;
  const std::string root = fields.root.toString();
  // Ranks usually start before or while the root's process creates the id: back off
  // gently instead of hammering it, but keep the first retries quick.
  auto backoff = std::chrono::milliseconds(10);
  std::string lastError;
  std::string impostor;  // kept: later attempts' reasons must not hide it
  while (true) {
    net::Socket socket;
    net::IoStatus st = net::Socket::connect(fields.root, deadline, &socket);
    lastError = st.ok() ? handshake(socket, fields.secret, rank, nranks, deadline)
                        : "connect: " + st.describe();
    if (lastError.starts_with(kImpostor)) impostor = lastError;
    if (lastError.empty()) {
      log::info(log::kBootstrap, "bootstrap: rank %d of %d connected to root %s", rank, nranks,
                root.c_str());
      return std::make_unique<BootstrapChannel>(std::move(socket), rank, nranks, root,
                                                secondsSetting(config::Setting::Timeout));
    }
    auto now = net::Clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<net::Clock::duration>(backoff, deadline - now));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
  if (!impostor.empty() && impostor != lastError) lastError += "; earlier: " + impostor;
  throw Error(ncclSystemError, "cannot reach bootstrap root at " + root + " within " +
                                   std::to_string(connectTimeout.count()) + " s (" + lastError +
                                   ")");
}

std::string uniqueIdTag(const ncclUniqueId& id) { return tagForSecret(decodeUniqueId(id).secret); }

}  // namespace prism
