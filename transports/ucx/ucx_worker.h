// The UCP objects one UCX transport owns: a context and a worker (serialized: the rank and
// the transport's I/O thread call in one at a time, see progress_owner.h), one memory
// region registered once for the communicator's lifetime, and an endpoint per connected
// peer with peer error handling, so a dead or unreachable peer becomes an error rather than
// a hang.
#pragma once

#include <ucp/api/ucp.h>

#include <cstddef>
#include <string>
#include <vector>

namespace prism::ucx {

/// Throws prism::Error(ncclSystemError, "ucx transport: <what>: <UCX's reason>") unless
/// `status` is UCS_OK.
void checkStatus(ucs_status_t status, const char* what);

/// Called by UCX from inside progress when the endpoint to `peer` fails.
using PeerFailure = void (*)(void* arg, int peer, ucs_status_t status);

class Worker {
 public:
  /// Creates the context (active messages, wake-up events) and the worker, and maps and
  /// registers `regionBytes` bytes of zeroed memory, touched once here so that no message
  /// ever faults a page in.
  explicit Worker(size_t regionBytes);
  ~Worker();  ///< closes every endpoint (forcibly), then releases everything else
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ucp_worker_h handle() const { return worker_; }
  std::byte* region() const { return region_; }
  ucp_mem_h memory() const { return memh_; }
  /// The file descriptor that becomes readable when the worker has work after arm().
  int eventFd() const { return eventFd_; }

  /// This worker's address, to hand to peers.
  std::vector<std::byte> address() const;
  /// Connects to each peer whose `addresses[p]` is non-empty. UCX reports failures of an
  /// endpoint to `onFailure` from inside progress.
  void connect(const std::vector<std::vector<std::byte>>& addresses, PeerFailure onFailure,
               void* arg);
  /// The endpoint to `peer`, or null when there is none (not connected, or not yet).
  ucp_ep_h endpoint(int peer) const {
    return static_cast<size_t>(peer) < endpoints_.size() ? endpoints_[static_cast<size_t>(peer)]
                                                         : nullptr;
  }

  /// Registers `callback` for active messages with `id`.
  void onActiveMessage(unsigned id, ucp_am_recv_callback_t callback, void* arg);
  /// Waits (driving progress) until every operation issued so far completed at its target,
  /// or `seconds` passed. Returns whether it completed.
  bool flush(double seconds);

  /// What UCX chose to reach `peer` with, as ucp_ep_print_info prints it.
  std::string describe(int peer) const;
  /// UCX's own estimate of the time a message of `bytes` takes to `peer`, in seconds
  /// (ucp_ep_evaluate_perf); negative where UCX cannot say.
  double estimatedSeconds(int peer, size_t bytes) const;

  /// Registers the caller's memory (ncclCommRegister) with UCX, for zero-copy sends from it
  /// and receives into it. Returns the handle for unregister(); throws when UCX refuses.
  ucp_mem_h registerMemory(void* data, size_t bytes);
  void unregister(ucp_mem_h memh);
  /// The registration holding [data, data + bytes), or null.
  ucp_mem_h registrationOf(const void* data, size_t bytes) const;

 private:
  struct FailureContext {
    Worker* worker;
    int peer;
  };
  static void onEndpointError(void* arg, ucp_ep_h ep, ucs_status_t status);
  void release();

  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int eventFd_ = -1;
  std::byte* region_ = nullptr;
  size_t regionBytes_ = 0;
  ucp_mem_h memh_ = nullptr;
  struct UserRegion {
    const std::byte* base;
    size_t bytes;
    ucp_mem_h memh;
  };
  std::vector<UserRegion> userRegions_;
  std::vector<ucp_ep_h> endpoints_;
  std::vector<FailureContext> failureContexts_;
  PeerFailure onFailure_ = nullptr;
  void* failureArg_ = nullptr;
};

}  // namespace prism::ucx
