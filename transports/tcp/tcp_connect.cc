// Connection set-up. Every rank creates its listener before the address exchange, so a
// connect() completes through the listener's backlog even before the peer calls accept():
// each rank first connects to all higher ranks, then accepts from all lower ones, and no
// ordering between ranks can deadlock.
#include "transports/tcp/tcp_connect.h"

#include <poll.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>

#include "base/config.h"
#include "base/error.h"
#include "base/interfaces.h"
#include "base/log.h"
#include "base/random.h"
#include "base/setup_channel.h"

namespace prism::tcp {

namespace {

using net::Clock;
using net::Deadline;
using net::Socket;
using net::SocketAddress;

constexpr uint32_t kHelloMagic = 0x50544350;  // "PTCP"
constexpr uint32_t kHelloVersion = 1;
constexpr int kMaxSockets = 16;

using Token = std::array<uint8_t, 16>;

/// What each rank publishes through the setup channel.
struct Endpoint {
  SocketAddress address;
  Token token;
  int32_t sockets;
  uint32_t failed;  ///< set in the closing exchange only
};

/// The first bytes on every connection, from the connecting side.
struct Hello {
  uint32_t magic;
  uint32_t version;
  int32_t from;
  int32_t index;
  Token token;  ///< the accepting rank's token
};

net::Interface chooseInterface() {
  std::string spec = config::getString(config::Setting::SocketIfname);
  auto chosen = net::selectInterface(net::listInterfaces(), spec);
  if (!chosen) {
    throw Error(ncclSystemError,
                spec.empty() ? "tcp transport: no up IPv4 interface, not even loopback"
                             : "tcp transport: no up IPv4 interface matches " +
                                   config::source(config::Setting::SocketIfname) + "=" + spec);
  }
  return *chosen;
}

std::string describe(const net::IoStatus& status) { return status.describe(); }

class Connector {
 public:
  Connector(SetupChannel& setup, const std::vector<bool>& connect, std::vector<Endpoint> all,
            Deadline deadline)
      : setup_(setup), connect_(connect), all_(std::move(all)), deadline_(deadline) {
    result_.resize(all_.size());
  }

  int socketsWith(int peer) const {
    const Endpoint& me = all_[static_cast<size_t>(setup_.rank())];
    return std::min(me.sockets, all_[static_cast<size_t>(peer)].sockets);
  }

  void connectHigher() {
    for (int peer = setup_.rank() + 1; peer < setup_.size(); ++peer) {
      if (!connect_[static_cast<size_t>(peer)]) continue;
      const Endpoint& theirs = all_[static_cast<size_t>(peer)];
      for (int i = 0; i < socketsWith(peer); ++i) {
        Socket s;
        auto status = Socket::connect(theirs.address, deadline_, &s);
        if (!status.ok()) {
          throw Error(ncclSystemError, "tcp transport: rank " + std::to_string(setup_.rank()) +
                                           " cannot connect to rank " + std::to_string(peer) +
                                           " at " + theirs.address.toString() + ": " +
                                           describe(status));
        }
        Hello hello{kHelloMagic, kHelloVersion, setup_.rank(), i, theirs.token};
        status = s.sendAll(&hello, sizeof(hello), deadline_);
        if (!status.ok()) {
          throw Error(ncclSystemError, "tcp transport: rank " + std::to_string(setup_.rank()) +
                                           " cannot greet rank " + std::to_string(peer) + ": " +
                                           describe(status));
        }
        result_[static_cast<size_t>(peer)].push_back(std::move(s));
      }
    }
  }

  void acceptLower(Socket& listener, const Token& myToken) {
    int expected = 0;
    for (int peer = 0; peer < setup_.rank(); ++peer) {
      if (connect_[static_cast<size_t>(peer)]) expected += socketsWith(peer);
      if (connect_[static_cast<size_t>(peer)]) {
        result_[static_cast<size_t>(peer)].resize(static_cast<size_t>(socketsWith(peer)));
      }
    }
    while (expected > 0) {
      pollfd p{listener.fd(), POLLIN, 0};
      int ready = ::poll(&p, 1, net::millisUntil(deadline_));
      if (ready == 0 || Clock::now() >= deadline_) {
        throw Error(ncclSystemError, "tcp transport: rank " + std::to_string(setup_.rank()) +
                                         " timed out waiting for " + std::to_string(expected) +
                                         " connection(s) from lower ranks");
      }
      SocketAddress from;
      Socket s = listener.accept(&from);
      if (!s) continue;
      if (admit(std::move(s), from, myToken)) --expected;
    }
  }

  PeerSockets take() { return std::move(result_); }

 private:
  /// Reads the hello (briefly: a silent stranger must not hold up set-up) and files the
  /// socket under its peer. False, with the socket closed, for anything unexpected.
  bool admit(Socket s, const SocketAddress& from, const Token& myToken) {
    Hello hello{};
    Deadline helloDeadline = std::min(deadline_, Clock::now() + std::chrono::seconds(2));
    auto status = s.recvAll(&hello, sizeof(hello), helloDeadline);
    std::string why;
    if (!status.ok()) {
      why = describe(status);
    } else if (hello.magic != kHelloMagic || hello.version != kHelloVersion) {
      why = "not a Prism TCP transport hello";
    } else if (std::memcmp(hello.token.data(), myToken.data(), myToken.size()) != 0) {
      why = "wrong token (another communicator or a stranger)";
    } else if (hello.from < 0 || hello.from >= setup_.rank() ||
               !connect_[static_cast<size_t>(hello.from)] || hello.index < 0 ||
               hello.index >= socketsWith(hello.from) ||
               result_[static_cast<size_t>(hello.from)][static_cast<size_t>(hello.index)]) {
      why = "unexpected rank " + std::to_string(hello.from) + " socket " +
            std::to_string(hello.index);
    }
    if (!why.empty()) {
      log::warn("tcp transport: rank %d refused a connection from %s: %s", setup_.rank(),
                from.toString().c_str(), why.c_str());
      return false;
    }
    result_[static_cast<size_t>(hello.from)][static_cast<size_t>(hello.index)] = std::move(s);
    return true;
  }

  SetupChannel& setup_;
  const std::vector<bool>& connect_;
  std::vector<Endpoint> all_;
  Deadline deadline_;
  PeerSockets result_;
};

}  // namespace

int autoSocketsPerPeer(const std::string& interfaceName, bool loopback) {
  if (loopback) return 1;
  long megabits = 0;
  std::ifstream("/sys/class/net/" + interfaceName + "/speed") >> megabits;
  // One socket (one core copying) keeps up with about 10 Gb/s.
  if (megabits <= 10000) return 1;
  return static_cast<int>(std::min<long>(4, (megabits + 9999) / 10000));
}

ConnectResult connectPeers(SetupChannel& setup, const std::vector<bool>& connect, int socketsWanted,
                           std::chrono::seconds timeout) {
  check(connect.size() == static_cast<size_t>(setup.size()), ncclInternalError,
        "tcp transport: connect mask has the wrong size");
  check(socketsWanted >= 0 && socketsWanted <= kMaxSockets, ncclInvalidArgument,
        "tcp transport: sockets per peer must be in [0, 16]");
  ConnectResult result;
  Socket listener;
  Endpoint mine{};
  std::exception_ptr failure;
  try {
    net::Interface chosen = chooseInterface();
    result.interfaceName = chosen.name;
    result.loopback = chosen.loopback;
    listener = Socket::listen(chosen.address);
    mine.address = listener.localAddress();
    fillRandom(mine.token.data(), mine.token.size());
    mine.sockets =
        socketsWanted > 0 ? socketsWanted : autoSocketsPerPeer(chosen.name, chosen.loopback);
  } catch (...) {
    failure = std::current_exception();
    mine.failed = 1;
  }
  std::vector<Endpoint> all(static_cast<size_t>(setup.size()));
  setup.allGather(&mine, all.data(), sizeof(Endpoint));
  if (failure) std::rethrow_exception(failure);
  for (int r = 0; r < setup.size(); ++r) {
    if (all[static_cast<size_t>(r)].failed != 0) {
      throw Error(ncclSystemError,
                  "tcp transport: rank " + std::to_string(r) + " could not open a listener");
    }
  }

  // Connect and accept, then tell every rank how it went, so a failure anywhere makes
  // every rank throw instead of leaving some waiting for connections.
  Connector connector(setup, connect, all, Clock::now() + timeout);
  try {
    connector.connectHigher();
    connector.acceptLower(listener, mine.token);
  } catch (...) {
    failure = std::current_exception();
  }
  uint32_t failed = failure ? 1 : 0;
  std::vector<uint32_t> outcomes(static_cast<size_t>(setup.size()));
  setup.allGather(&failed, outcomes.data(), sizeof(failed));
  if (failure) std::rethrow_exception(failure);
  for (int r = 0; r < setup.size(); ++r) {
    if (outcomes[static_cast<size_t>(r)] != 0) {
      throw Error(ncclSystemError,
                  "tcp transport: rank " + std::to_string(r) + " failed to connect to its peers");
    }
  }
  result.sockets = connector.take();
  return result;
}

}  // namespace prism::tcp
