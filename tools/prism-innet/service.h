// The prism-innet event loop: one epoll loop per thread. Jobs are pinned to a loop by a
// hash of their token, so a job's connections, slots and reductions are touched by one
// thread only; the loop that accepted a connection hands it over after its Hello.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/socket.h"
#include "tools/prism-innet/connection.h"
#include "tools/prism-innet/job.h"

namespace prism::innet {

struct ServiceOptions {
  int threads = 1;
  /// A job or connection that makes no progress this long fails.
  std::chrono::seconds timeout{60};
  /// Largest pool (window x nranks x chunk bytes) one job may ask for.
  size_t maxJobBytes = size_t{1} << 30;
};

class Loop;

class Service {
 public:
  /// Binds the listening socket (port 0 picks one). Throws prism::Error.
  Service(const net::SocketAddress& address, ServiceOptions options);
  ~Service();
  net::SocketAddress address() const { return listener_.localAddress(); }
  /// Serves until `stop` becomes true (checked at least every 200 ms).
  void run(const std::atomic<bool>& stop);

 private:
  friend class Loop;
  net::Socket listener_;
  ServiceOptions options_;
  std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace prism::innet
