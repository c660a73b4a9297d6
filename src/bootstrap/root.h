// The bootstrap root: a service thread in the process that called createUniqueId. It
// admits ranks that prove they know the id's secret, checks their registrations and serves
// allGather rounds (protocol.h). It exits once every registered rank has disconnected, or
// when registration makes no progress for the idle timeout, so no thread outlives its use.
#pragma once

#include <atomic>
#include <memory>

#include "base/socket.h"
#include "src/bootstrap/unique_id.h"

namespace prism::bootstrap {

/// Lets the starter observe a root thread, e.g. that it exits once its work is done.
class RootStatus {
 public:
  explicit RootStatus(std::shared_ptr<const std::atomic<bool>> running)
      : running_(std::move(running)) {}
  bool running() const { return running_->load(); }

 private:
  std::shared_ptr<const std::atomic<bool>> running_;
};

/// Starts a detached root thread serving connections on `listener`. `timeout` bounds both
/// how long a connection may take to prove the secret and register, and how long the root
/// waits without progress before all ranks have registered.
RootStatus startRoot(net::Socket listener, const Secret& secret, net::Clock::duration timeout);

}  // namespace prism::bootstrap
