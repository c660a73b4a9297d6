// The I/O thread, and the hand-over of its links to the rank (tcp_engine.h). While it holds
// the links, the thread pumps every link until nothing moves, then announces that it sleeps
// and waits in epoll. Sockets are registered edge-triggered: a pass stops on a socket only
// when the kernel said EAGAIN (an edge follows when that changes) or when the rank's ring
// is full or empty (the rank's commit or release then calls wake()). The sleep protocol
// is the doorbell's (futex_doorbell.cc): the thread sets `sleeping_`, fences, re-pumps,
// then waits; the rank publishes its counter, fences, and writes the eventfd only if it
// sees `sleeping_`, so no wake-up is lost and a busy thread costs the rank no system call.
#include "transports/tcp/tcp_engine.h"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>

#include "base/error.h"
#include "base/log.h"
#include "transports/shm/futex_doorbell.h"
#include "transports/tcp/tcp_link.h"

namespace prism::tcp {

namespace {

// Idle passes before the thread sleeps. On oversubscribed cores a thread that keeps
// passing (even with sched_yield) takes the core from the rank it waits for, which made
// small calls many times slower (perf/history); so it sleeps almost at once.
constexpr int kIdlePasses = 4;
// A safety net only: every state change wakes the thread through an edge or the eventfd.
constexpr int kSleepMillis = 1000;
constexpr auto kFailureGrace = std::chrono::milliseconds(50);

}  // namespace

Engine::Engine(std::vector<Link*> links, LinkSet* set, shm::DoorbellBlock* bell)
    : links_(std::move(links)), set_(set), bell_(bell) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) throwSystemError("tcp transport: epoll_create1");
  event_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_ < 0) {
    ::close(epoll_);
    throwSystemError("tcp transport: eventfd");
  }
  auto add = [&](int fd, uint32_t events) {
    epoll_event e{};
    e.events = events;
    e.data.fd = fd;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e) != 0) {
      ::close(epoll_);
      ::close(event_);
      throwSystemError("tcp transport: epoll_ctl");
    }
  };
  add(event_, EPOLLIN);
  for (Link* link : links_) {
    link->attach(this);
    for (const net::Socket& s : link->sockets()) {
      add(s.fd(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    }
  }
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  stop_.store(true, std::memory_order_release);
  owner_.handBack();
  owner_.wakeParked();
  uint64_t one = 1;
  (void)!::write(event_, &one, sizeof(one));
  thread_.join();
  ::close(event_);
  ::close(epoll_);
}

void Engine::wake() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!sleeping_.load(std::memory_order_relaxed)) return;
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread will wake anyway.
  (void)!::write(event_, &one, sizeof(one));
}

bool Engine::drive() {
  owner_.claim();
  return pumpAll(false);
}

void Engine::endCall() {
  owner_.claim();
  for (Link* link : links_) link->forgetPlacement();
}

void Engine::handBack() { owner_.handBack(); }

bool Engine::sendsPending() const {
  for (const Link* link : links_) {
    if (!link->drained()) return true;
  }
  return false;
}

bool Engine::pumpAll(bool ring) {
  bool moved = false;
  bool wake = false;
  bool failed = false;
  for (Link* link : links_) {
    moved |= link->pump(wake);
    failed |= link->failed();
  }
  // Published after the whole pass, so the report names every link lost by now.
  if (failed && !set_->failed.load(std::memory_order_relaxed)) {
    awaitRelatedFailures();
    set_->failed.store(true, std::memory_order_release);
    wake = true;
  }
  if (wake && ring) shm::ringDoorbell(*bell_);
  return moved;
}

void Engine::awaitRelatedFailures() {
  // When a rank dies, a survivor that notices first gives up and closes its connections
  // too; another survivor can see that close before the dead rank's (the dying process
  // may be descheduled between closing its sockets). A short grace lets the dead rank's
  // hang-up arrive, so the report names it. Only the failure path waits.
  const auto until = std::chrono::steady_clock::now() + kFailureGrace;
  while (true) {
    bool all = true;
    for (Link* link : links_) {
      link->probeHangup();
      all &= link->failed();
    }
    if (all || std::chrono::steady_clock::now() >= until) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Engine::loop() {
  pthread_setname_np(pthread_self(), "prism-tcp");
  epoll_event events[32];
  int idle = 0;
  // One pass if the rank does not hold the links; parks until it hands them back if so.
  auto pass = [&](bool& parked) {
    if (!owner_.beginPass()) {
      owner_.park(stop_);
      parked = true;
      return false;
    }
    bool moved = pumpAll(true);
    owner_.endPass();
    return moved;
  };
  while (!stop_.load(std::memory_order_acquire)) {
    bool parked = false;
    if (pass(parked)) {
      idle = 0;
      continue;
    }
    if (parked || ++idle < kIdlePasses) continue;
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!pass(parked) && !parked && !stop_.load(std::memory_order_acquire)) {
      int n = ::epoll_wait(epoll_, events, 32, kSleepMillis);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd != event_) continue;
        uint64_t count;
        (void)!::read(event_, &count, sizeof(count));
      }
      if (n < 0 && errno != EINTR) log::warn("tcp transport: epoll_wait failed (errno %d)", errno);
    }
    sleeping_.store(false, std::memory_order_relaxed);
    idle = 0;
  }
}

}  // namespace prism::tcp
