#include "src/core/peer_watch.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"

namespace prism {

namespace {

/// The inode of this process's pid namespace: a pid means the same process to two ranks
/// only when they share it.
uint64_t pidNamespace() {
  struct stat st {};
  if (stat("/proc/self/ns/pid", &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace

PeerWatch::PeerWatch(SetupChannel& setup, const std::vector<int>& hostOf) {
  struct Identity {
    int64_t pid;
    uint64_t pidNamespace;
  };
  const Identity mine{getpid(), pidNamespace()};
  std::vector<Identity> all(static_cast<size_t>(setup.size()));
  setup.allGather(&mine, all.data(), sizeof(Identity));
  const int me = setup.rank();
  pids_.assign(all.size(), 0);
  fds_.assign(all.size(), -1);
  for (int q = 0; q < setup.size(); ++q) {
    pids_[static_cast<size_t>(q)] = static_cast<int>(all[static_cast<size_t>(q)].pid);
    const Identity& peer = all[static_cast<size_t>(q)];
    if (q == me || peer.pid == mine.pid || mine.pidNamespace == 0 ||
        peer.pidNamespace != mine.pidNamespace || hostOf[static_cast<size_t>(q)] != hostOf[me]) {
      continue;
    }
    // Opened while the peer is known alive (it just took part in the allgather), so the
    // descriptor names that process even if its pid is reused later.
    const int fd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(peer.pid), 0));
    if (fd < 0) {
      log::info(log::kInit, "rank %d: cannot watch rank %d (pid %lld): pidfd_open failed", me, q,
                static_cast<long long>(peer.pid));
      continue;
    }
    fds_[static_cast<size_t>(q)] = fd;
  }
}

PeerWatch::~PeerWatch() {
  for (int fd : fds_) {
    if (fd >= 0) close(fd);
  }
}

bool PeerWatch::died(int rank) const {
  if (rank < 0 || static_cast<size_t>(rank) >= fds_.size()) return false;
  const int fd = fds_[static_cast<size_t>(rank)];
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && p.revents != 0;
}

int PeerWatch::pid(int rank) const {
  if (rank < 0 || static_cast<size_t>(rank) >= pids_.size()) return 0;
  return pids_[static_cast<size_t>(rank)];
}

std::string PeerWatch::stoppedNote() const {
  std::string note;
  for (size_t q = 0; q < fds_.size(); ++q) {
    if (fds_[q] < 0) continue;
    std::ifstream in("/proc/" + std::to_string(pids_[q]) + "/stat");
    std::stringstream stat;
    stat << in.rdbuf();
    // The state follows the command name, which is in parentheses and may hold spaces.
    const std::string text = stat.str();
    const size_t close = text.rfind(')');
    if (close == std::string::npos || close + 2 >= text.size()) continue;
    const char state = text[close + 2];
    if (state == 'T' || state == 't') {
      note += "; rank " + std::to_string(q) + " (pid " + std::to_string(pids_[q]) + ") is stopped";
    }
  }
  return note;
}

}  // namespace prism
