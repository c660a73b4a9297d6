#include "tools/prism-run/output_tags.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace prism::run {

OutputTags::~OutputTags() {
  for (Stream& s : streams_) {
    if (s.read >= 0) close(s.read);
    if (s.write >= 0) close(s.write);
  }
}

void OutputTags::attach(std::vector<SpawnSpec>& ranks) {
  for (size_t r = 0; r < ranks.size(); ++r) {
    for (bool err : {false, true}) {
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) != 0) {
        throw SetupError(std::string("pipe: ") + std::strerror(errno));
      }
      fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
      streams_.push_back({static_cast<int>(r), err, fds[0], fds[1], {}});
      (err ? ranks[r].stderrFd : ranks[r].stdoutFd) = fds[1];
    }
  }
}

void OutputTags::started() {
  for (Stream& s : streams_) {
    if (s.write >= 0) close(s.write);
    s.write = -1;
  }
}

void OutputTags::emit(Stream& s, bool all) {
  std::FILE* out = s.err ? stderr : stdout;
  size_t start = 0;
  for (size_t nl; (nl = s.pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::fprintf(out, "[1,%d]<%s>:%.*s\n", s.rank, s.err ? "stderr" : "stdout",
                 static_cast<int>(nl - start), s.pending.data() + start);
  }
  s.pending.erase(0, start);
  if (all && !s.pending.empty()) {
    std::fprintf(out, "[1,%d]<%s>:%s\n", s.rank, s.err ? "stderr" : "stdout", s.pending.c_str());
    s.pending.clear();
  }
  std::fflush(out);
}

void OutputTags::pump(int millis) {
  std::vector<pollfd> fds;
  for (const Stream& s : streams_) {
    if (s.read >= 0) fds.push_back({s.read, POLLIN, 0});
  }
  if (fds.empty()) return;
  if (poll(fds.data(), fds.size(), millis) <= 0) return;
  char buffer[65536];
  for (Stream& s : streams_) {
    if (s.read < 0) continue;
    for (;;) {
      const ssize_t n = read(s.read, buffer, sizeof(buffer));
      if (n > 0) {
        s.pending.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {  // the rank's end is closed: it exited
        close(s.read);
        s.read = -1;
        emit(s, true);
      }
      break;
    }
    emit(s, false);
  }
}

void OutputTags::drain(int millis) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(millis);
  auto open = [&] {
    for (const Stream& s : streams_) {
      if (s.read >= 0) return true;
    }
    return false;
  };
  while (open() && std::chrono::steady_clock::now() < until) pump(50);
  for (Stream& s : streams_) emit(s, true);
}

}  // namespace prism::run
