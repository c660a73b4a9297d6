// Connection set-up of the TCP transport: listen, swap addresses and tokens over the
// SetupChannel, connect to higher ranks, accept from lower ones, authenticate.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/socket.h"

namespace prism {
class SetupChannel;
}

namespace prism::tcp {

/// The sockets of one peer (empty for peers without a connection), all non-blocking with
/// TCP_NODELAY, in stripe order.
using PeerSockets = std::vector<std::vector<net::Socket>>;

struct ConnectResult {
  PeerSockets sockets;
  std::string interfaceName;  ///< the interface this rank listened on
  bool loopback = false;
};

/// Collective over `setup`. `socketsWanted` is this rank's preference (0: autoSocketsPerPeer
/// of the chosen interface); a pair uses the smaller of its two ranks' values. Every connection
/// opens with a hello naming the connecting rank and socket index and carrying the accepting rank's
/// token, which only ranks of this communicator learned (through the authenticated setup channel);
/// any other connection is closed and logged. Throws ncclSystemError on every rank if any rank
/// fails.
ConnectResult connectPeers(SetupChannel& setup, const std::vector<bool>& connect, int socketsWanted,
                           std::chrono::seconds timeout);

/// Sockets per peer for an interface: 1 for loopback and links up to 10 Gb/s, one more per
/// further 10 Gb/s (from /sys/class/net/<name>/speed), at most 4.
int autoSocketsPerPeer(const std::string& interfaceName, bool loopback);

}  // namespace prism::tcp
