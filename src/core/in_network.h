// The in-network aggregation path: a host AllReduce whose ranks each stream their input up
// to a prism-innet service (the aggregation point of the fabric) and receive the reduced
// result back, S bytes up and S bytes down per rank whatever the rank count. Chunks are
// pipelined: up to `window` chunks are in flight, so sending, reducing at the service and
// receiving overlap. See docs/in-network.md for the protocol and the selection rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/socket.h"
#include "nccl.h"
#include "src/core/operation.h"

namespace prism {

/// What an InNetwork path is created with (all ranks of a communicator pass equal values,
/// except `rank`).
struct InNetworkOptions {
  std::string address;  ///< "host:port" of the service; empty: the path is off
  std::string token;    ///< job token shared by all ranks (the unique id's tag)
  int rank = 0;
  int nranks = 1;
  int64_t timeoutSeconds = 60;  ///< bound on every wait (PRISM_TIMEOUT_S)
  bool forced = false;          ///< PRISM_ALGO names "innet": every host AllReduce goes here
  /// Otherwise: whether an AllReduce of this many bytes per rank should use the service
  /// (the communicator asks its cost model); null means never.
  std::function<bool(size_t bytes)> prefer;
  /// Called at least every 100 ms while a call waits; throws to stop it (ncclCommAbort).
  std::function<void()> whileWaiting;
};

class InNetwork {
 public:
  /// Connects nothing yet: the service is contacted at the first call that uses it.
  explicit InNetwork(InNetworkOptions options);
  /// Leaves the job cleanly (a Bye frame), so the service does not report a failure.
  ~InNetwork();
  InNetwork(const InNetwork&) = delete;
  InNetwork& operator=(const InNetwork&) = delete;

  /// True when `op` takes this path: a whole-communicator host AllReduce, the service
  /// address set, and either forced or preferred by the cost model on two or more ranks.
  bool eligible(const Operation& op) const;
  /// True when the path could take `op` if chosen for it: eligible() without asking the
  /// cost model (a tuner plugin chooses instead, src/comm/tuner.h).
  bool available(const Operation& op) const;
  /// Runs `op` through the service. Collective over the communicator. Throws
  /// ncclSystemError (cannot reach the service) or ncclRemoteError (the service or a peer
  /// failed), naming the address.
  void run(const Operation& op);

 private:
  struct Call;
  void connect();
  /// Sends what the window and the socket allow; true if anything moved.
  bool pushChunks(Call& call);
  /// Receives what has arrived; true if anything moved.
  bool pullResults(Call& call);
  /// Checks a result header as soon as it is complete; throws on Error or a mismatch.
  void checkResultHeader(const Call& call, size_t length);
  [[noreturn]] void fail(ncclResult_t code, const std::string& reason);
  /// Reads an Error frame's text (after its header) and throws it.
  [[noreturn]] void remoteError(uint32_t bytes);

  InNetworkOptions options_;
  uint32_t chunkBytes_ = 0;
  uint32_t window_ = 0;
  net::Socket socket_;
  std::string broken_;  ///< why the connection is unusable ("" while it is fine)
  uint64_t ticket_ = 0;
  uint64_t sequence_ = 0;
  std::vector<std::byte> staging_;  ///< one chunk: a PreMulSum contribution, scaled
};

}  // namespace prism
