// The I/O thread, and the hand-over of its links to the rank (tcp_engine.h). While it holds
// the links, the thread pumps every link until nothing moves, then announces that it sleeps
// and waits in epoll (io_sleep.h). Sockets are registered edge-triggered: a pass stops on a
// socket only when the kernel said EAGAIN (an edge follows when that changes) or when the
// rank's ring is full or empty (the rank's commit or release then calls wake()).
#include "transports/tcp/tcp_engine.h"

#include <pthread.h>
#include <sys/epoll.h>
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
    : links_(std::move(links)), set_(set), bell_(bell), sleep_("tcp transport") {
  for (Link* link : links_) {
    link->attach(this);
    for (const net::Socket& s : link->sockets()) {
      sleep_.watch(s.fd(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    }
  }
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  stop_.store(true, std::memory_order_release);
  owner_.handBack();
  owner_.wakeParked();
  sleep_.interrupt();
  thread_.join();
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
    sleep_.announce();
    if (!pass(parked) && !parked && !stop_.load(std::memory_order_acquire)) {
      sleep_.sleep(kSleepMillis);
    }
    sleep_.awake();
    idle = 0;
  }
}

}  // namespace prism::tcp
