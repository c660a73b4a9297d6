// Fast death detection for ranks that are processes on this host: a pidfd per peer
// process, which turns readable the moment the process exits, however it exits (kill -9
// included). A waiting rank polls the pidfd of the peer it waits on, so it learns of that
// peer's death within one wait cycle instead of after PRISM_TIMEOUT_S. Only the peer it
// waits on: a peer that has done its part and exited (it need not destroy the
// communicator first) is no failure while its messages are still being read. Ranks on
// other hosts are watched by their transport (a lost TCP connection), ranks that are
// threads of this process by nobody (they cannot die alone).
#pragma once

#include <string>
#include <vector>

namespace prism {

class SetupChannel;

class PeerWatch {
 public:
  /// Collective over `setup`: learns every rank's process and pid namespace. `hostOf`
  /// gives each rank's host (ranks on other hosts are not watched).
  PeerWatch(SetupChannel& setup, const std::vector<int>& hostOf);
  ~PeerWatch();
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

  /// Whether rank `rank`'s process has exited. One poll() of its pidfd; no system call
  /// for a rank that is not watched (this rank, a thread of this process, another host).
  bool died(int rank) const;
  /// The pid rank `rank` reported (0 if unknown).
  int pid(int rank) const;
  /// "; rank R (pid P) is stopped" for every watched rank whose process is stopped
  /// (SIGSTOP, a debugger), else empty: a stopped rank is alive, so waiting on it ends
  /// only at the timeout, and the timeout's reason must name it even when this rank
  /// waits on another rank that waits on it.
  std::string stoppedNote() const;

 private:
  std::vector<int> pids_;
  std::vector<int> fds_;  ///< pidfd per rank, -1 where not watched
};

}  // namespace prism
