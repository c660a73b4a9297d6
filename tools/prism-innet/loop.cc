#include "tools/prism-innet/loop.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>

#include "base/error.h"

namespace prism::innet {

namespace {

constexpr int kMaxEvents = 64;
constexpr int kWaitMillis = 200;

void logLine(const std::string& text) { std::fprintf(stderr, "prism-innet: %s\n", text.c_str()); }

bool wouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

}  // namespace

Loop::Loop(Service& service, int index, int listenFd)
    : service_(service), index_(index), listenFd_(listenFd), lastSweep_(Clock::now()) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wakeFd_ < 0) throwSystemError("epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wakeFd_;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, wakeFd_, &ev);
  if (listenFd_ >= 0) {
    ev.data.fd = listenFd_;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, listenFd_, &ev);
  }
}

Loop::~Loop() {
  for (auto& [fd, c] : conns_) ::close(fd);
  ::close(wakeFd_);
  ::close(epoll_);
}

void Loop::run(const std::atomic<bool>& stop) {
  epoll_event events[kMaxEvents];
  while (!stop.load()) {
    int n = epoll_wait(epoll_, events, kMaxEvents, kWaitMillis);
    if (n < 0 && errno != EINTR) throwSystemError("epoll_wait");
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listenFd_) {
        acceptAll();
      } else if (fd == wakeFd_) {
        drainHandoff();
      } else if (auto it = conns_.find(fd); it != conns_.end()) {
        onEvent(*it->second, events[i].events);
      }
    }
    if (Clock::now() - lastSweep_ > std::chrono::milliseconds(kWaitMillis)) sweep();
    reap();
  }
}

void Loop::adopt(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(handoffMutex_);
    handoff_.push_back(std::move(c));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t rc = ::write(wakeFd_, &one, sizeof(one));
}

void Loop::drainHandoff() {
  uint64_t value = 0;
  [[maybe_unused]] ssize_t rc = ::read(wakeFd_, &value, sizeof(value));
  std::vector<std::unique_ptr<Connection>> taken;
  {
    std::lock_guard lock(handoffMutex_);
    taken.swap(handoff_);
  }
  for (auto& owned : taken) {
    Connection& c = *owned;
    conns_[c.fd] = std::move(owned);
    epoll_event ev{};
    ev.events = 0;
    ev.data.fd = c.fd;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    c.interest = 0;
    joinJob(c);
  }
}

void Loop::acceptAll() {
  while (true) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd =
        accept4(listenFd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error such as EMFILE: retried next event
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->opened = Clock::now();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    c->interest = EPOLLIN;
    conns_[fd] = std::move(c);
  }
}

void Loop::onEvent(Connection& c, uint32_t events) {
  if ((events & (EPOLLHUP | EPOLLERR)) && c.blocked) {
    connectionLost(c, "connection lost");
    return;
  }
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !onReadable(c)) return;
  if (!c.dead && (events & EPOLLOUT)) flush(c);
}

bool Loop::onReadable(Connection& c) {
  while (!c.dead && !c.blocked) {
    if (!c.inPayload && c.headerGot == sizeof(Frame)) {
      if (!onHeader(c)) return true;
      continue;
    }
    char* dst = c.inPayload ? reinterpret_cast<char*>(c.payload) + c.payloadGot
                            : reinterpret_cast<char*>(&c.in) + c.headerGot;
    size_t want = c.inPayload ? c.in.bytes - c.payloadGot : sizeof(Frame) - c.headerGot;
    ssize_t n = ::recv(c.fd, dst, want, 0);
    if (n == 0) {
      connectionLost(c, "disconnected");
      return true;
    }
    if (n < 0) {
      if (!wouldBlock())
        connectionLost(c, std::string("connection error: ") + std::strerror(errno));
      return true;
    }
    if (c.job) c.job->touch(Clock::now());
    if (!c.inPayload) {
      c.headerGot += static_cast<size_t>(n);
    } else if ((c.payloadGot += static_cast<size_t>(n)) == c.in.bytes) {
      // After Hello the connection may move to another loop: stop touching it.
      if (c.in.type == FrameType::Hello) {
        onPayload(c);
        return false;
      }
      onPayload(c);
    }
  }
  return true;
}

bool Loop::onHeader(Connection& c) {
  if (c.in.magic != kMagic || c.in.version != kVersion) {
    reject(c, "not a prism-innet client of protocol version " + std::to_string(kVersion));
    return false;
  }
  c.payloadGot = 0;
  switch (c.in.type) {
    case FrameType::Hello:
      if (c.job != nullptr || !c.token.empty() || c.in.bytes == 0 || c.in.bytes > kMaxTokenBytes) {
        reject(c, "malformed Hello");
        return false;
      }
      c.token.resize(c.in.bytes);
      c.payload = reinterpret_cast<std::byte*>(c.token.data());
      c.inPayload = true;
      return true;
    case FrameType::Chunk: {
      if (c.job == nullptr || !c.job->complete() || c.in.ticket != c.nextTicket) {
        reject(c, "chunk out of order (ticket " + std::to_string(c.in.ticket) + ", expected " +
                      std::to_string(c.nextTicket) + ")");
        return false;
      }
      std::string error;
      switch (c.job->admit(c.in, c.rank, &c.payload, &error)) {
        case Job::Admit::Busy:
          c.blocked = true;
          setInterest(c);
          return false;
        case Job::Admit::Invalid:
          failJob(*c.job, error);
          return false;
        case Job::Admit::Ok:
          c.inPayload = true;
          return true;
      }
      return false;
    }
    case FrameType::Bye:
      c.headerGot = 0;
      if (c.job != nullptr && c.job->busy()) {
        failJob(*c.job, "rank " + std::to_string(c.rank) + " left during a collective");
      } else {
        close(c);
      }
      return false;
    default:
      reject(c, "unexpected frame type " + std::to_string(static_cast<int>(c.in.type)));
      return false;
  }
}

void Loop::onPayload(Connection& c) {
  c.inPayload = false;
  c.headerGot = 0;
  if (c.in.type == FrameType::Hello) return onHello(c);
  Job& job = *c.job;
  ++c.nextTicket;
  if (!job.arrived(c.in.ticket)) return;
  for (int r = 0; r < job.nranks(); ++r) {
    Connection& m = *job.member(r);
    m.results[(m.resultHead + m.resultCount) % m.results.size()] = c.in.ticket;
    ++m.resultCount;
  }
  for (int r = 0; r < job.nranks() && c.job == &job; ++r) {
    if (Connection* m = job.member(r)) flush(*m);
  }
}

void Loop::onHello(Connection& c) {
  HelloInfo info = readHello(c.in);
  const ServiceOptions& options = service_.options_;
  size_t pool = static_cast<size_t>(info.window) * static_cast<size_t>(std::max(info.nranks, 0)) *
                info.chunkBytes;
  if (info.nranks < 1 || info.nranks > kMaxRanks || info.rank < 0 || info.rank >= info.nranks ||
      info.chunkBytes == 0 || info.chunkBytes > kMaxChunkBytes || info.chunkBytes % 8 != 0 ||
      info.window == 0 || info.window > kMaxWindow || pool > options.maxJobBytes) {
    return reject(c, "Hello asks for an unsupported job (nranks " + std::to_string(info.nranks) +
                         ", chunk " + std::to_string(info.chunkBytes) + " bytes, window " +
                         std::to_string(info.window) + ", limit " +
                         std::to_string(options.maxJobBytes) + " bytes per job)");
  }
  c.rank = info.rank;
  auto owner = static_cast<int>(std::hash<std::string>{}(c.token) % service_.loops_.size());
  if (owner == index_) return joinJob(c);
  // Pin the job to its loop: hand the connection over.
  epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
  auto it = conns_.find(c.fd);
  std::unique_ptr<Connection> owned = std::move(it->second);
  conns_.erase(it);
  service_.loops_[owner]->adopt(std::move(owned));
}

void Loop::joinJob(Connection& c) {
  HelloInfo info = readHello(c.in);
  auto& slot = jobs_[c.token];
  if (!slot) slot = std::make_unique<Job>(c.token, info);
  Job& job = *slot;
  std::string error = job.join(&c, info);
  if (!error.empty()) return reject(c, error);
  c.job = &job;
  c.results.assign(job.window(), 0);
  setInterest(c);
  if (!job.complete()) return;
  Frame welcome;
  welcome.type = FrameType::Welcome;
  for (int r = 0; r < job.nranks(); ++r) {
    Connection& m = *job.member(r);
    m.control.assign(reinterpret_cast<const char*>(&welcome), sizeof(welcome));
    m.controlSent = 0;
    flush(m);
  }
}

void Loop::flush(Connection& c) {
  while (!c.dead) {
    if (c.controlSent < c.control.size() && c.resultSent == 0) {
      ssize_t n = ::send(c.fd, c.control.data() + c.controlSent, c.control.size() - c.controlSent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (wouldBlock()) break;
        return connectionLost(c, std::string("send failed: ") + std::strerror(errno));
      }
      c.controlSent += static_cast<size_t>(n);
      continue;
    }
    if (c.resultCount == 0) break;
    Job& job = *c.job;
    uint64_t ticket = c.results[c.resultHead];
    const Frame& header = job.resultHeader(ticket);
    const auto* payload = reinterpret_cast<const char*>(job.result(ticket));
    iovec iov[2];
    int parts = 0;
    if (c.resultSent < sizeof(Frame)) {
      iov[parts++] = {const_cast<char*>(reinterpret_cast<const char*>(&header)) + c.resultSent,
                      sizeof(Frame) - c.resultSent};
      iov[parts++] = {const_cast<char*>(payload), header.bytes};
    } else {
      size_t done = c.resultSent - sizeof(Frame);
      iov[parts++] = {const_cast<char*>(payload) + done, header.bytes - done};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(parts);
    ssize_t n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (wouldBlock()) break;
      return connectionLost(c, std::string("send failed: ") + std::strerror(errno));
    }
    job.touch(Clock::now());
    c.resultSent += static_cast<size_t>(n);
    if (c.resultSent < sizeof(Frame) + header.bytes) continue;
    c.resultSent = 0;
    c.resultHead = (c.resultHead + 1) % c.results.size();
    --c.resultCount;
    if (job.delivered(ticket)) wake(job);
  }
  setInterest(c);
}

void Loop::wake(Job& job) {
  // A blocked rank's payload waits in its socket, so re-arming EPOLLIN is enough: the loop
  // re-admits its header on the next readable event (no recursion from here).
  for (int r = 0; r < job.nranks(); ++r) {
    Connection* m = job.member(r);
    if (m == nullptr || !m->blocked) continue;
    m->blocked = false;
    setInterest(*m);
  }
}

void Loop::connectionLost(Connection& c, const std::string& why) {
  if (c.job != nullptr) {
    return failJob(*c.job, "rank " + std::to_string(c.rank) +
                               " dropped its connection without leaving the job (" + why + ")");
  }
  close(c);
}

void Loop::failJob(Job& job, const std::string& reason) {
  logLine("job " + job.token().substr(0, 8) + ": " + reason);
  for (int r = 0; r < job.nranks(); ++r) {
    Connection* m = job.member(r);
    if (m == nullptr) continue;
    sendError(*m, reason);
    close(*m);
  }
}

void Loop::reject(Connection& c, const std::string& reason) {
  if (c.job != nullptr) return failJob(*c.job, reason);
  logLine("connection refused: " + reason);
  sendError(c, reason);
  close(c);
}

void Loop::sendError(Connection& c, const std::string& reason) {
  // Best effort, never blocking; skipped in the middle of a frame (the rank then sees the
  // connection close, which is an error too).
  if (c.dead || c.resultSent != 0 || c.controlSent < c.control.size()) return;
  std::string text = reason.substr(0, kMaxErrorBytes);
  Frame f;
  f.type = FrameType::Error;
  f.bytes = static_cast<uint32_t>(text.size());
  std::string frame(reinterpret_cast<const char*>(&f), sizeof(f));
  frame += text;
  [[maybe_unused]] ssize_t n =
      ::send(c.fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void Loop::close(Connection& c) {
  if (c.dead) return;
  c.dead = true;
  epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::shutdown(c.fd, SHUT_RDWR);
  ::close(c.fd);
  if (c.job != nullptr && c.job->leave(&c)) {
    auto it = jobs_.find(c.job->token());
    if (it != jobs_.end() && it->second.get() == c.job) {
      deadJobs_.push_back(std::move(it->second));
      jobs_.erase(it);
    }
  }
  c.job = nullptr;
  auto it = conns_.find(c.fd);
  if (it != conns_.end() && it->second.get() == &c) {
    deadConns_.push_back(std::move(it->second));
    conns_.erase(it);
  }
}

void Loop::setInterest(Connection& c) {
  if (c.dead) return;
  uint32_t events =
      (c.blocked ? 0u : uint32_t{EPOLLIN}) | (c.wantsWrite() ? uint32_t{EPOLLOUT} : 0u);
  if (events == c.interest) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = c.fd;
  epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  c.interest = events;
}

void Loop::sweep() {
  Clock::time_point now = Clock::now();
  lastSweep_ = now;
  std::chrono::seconds timeout = service_.options_.timeout;
  std::vector<Connection*> late;
  for (auto& [fd, c] : conns_) {
    if (c->job == nullptr && now - c->opened > timeout) late.push_back(c.get());
  }
  for (Connection* c : late) reject(*c, "no Hello within the timeout");
  std::vector<std::pair<Job*, std::string>> stalled;
  for (auto& [token, job] : jobs_) {
    std::string why = job->stallReason(now, timeout);
    if (!why.empty()) stalled.emplace_back(job.get(), why);
  }
  for (auto& [job, why] : stalled) {
    failJob(*job, "no progress for " + std::to_string(timeout.count()) + " s: " + why);
  }
}

void Loop::reap() {
  deadConns_.clear();
  deadJobs_.clear();
}

}  // namespace prism::innet
