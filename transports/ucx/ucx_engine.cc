// The sleep protocol is the TCP engine's: the thread sets `sleeping_`, fences, arms the
// worker (UCS_ERR_BUSY means work is pending: pass again), then waits in epoll on the
// worker's event descriptor and an eventfd. The rank, after handing the worker back,
// fences and writes the eventfd only if it sees `sleeping_`, so no hand-over is missed.
#include "transports/ucx/ucx_engine.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "base/error.h"
#include "base/log.h"
#include "transports/shm/futex_doorbell.h"
#include "transports/ucx/ucx_worker.h"

namespace prism::ucx {

namespace {

// A safety net only: the worker's descriptor and the eventfd wake the thread.
constexpr int kSleepMillis = 1000;

}  // namespace

Engine::Engine(Worker& worker, shm::DoorbellBlock* bell, const uint64_t* events,
               std::function<void()> idle)
    : worker_(worker), bell_(bell), events_(events), idle_(std::move(idle)) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) throwSystemError("ucx transport: epoll_create1");
  event_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_ < 0) {
    ::close(epoll_);
    throwSystemError("ucx transport: eventfd");
  }
  for (int fd : {event_, worker_.eventFd()}) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e) != 0) {
      ::close(epoll_);
      ::close(event_);
      throwSystemError("ucx transport: epoll_ctl");
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
  owner_.claim();
  ::close(event_);
  ::close(epoll_);
}

bool Engine::drive() {
  owner_.claim();
  return ucp_worker_progress(worker_.handle()) != 0;
}

void Engine::handBack() {
  if (!owner_.rankDrives()) return;
  owner_.handBack();
  wake();
}

void Engine::wake() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!sleeping_.load(std::memory_order_relaxed)) return;
  uint64_t one = 1;
  (void)!::write(event_, &one, sizeof(one));
}

bool Engine::pass() {
  const uint64_t before = *events_;
  bool moved = false;
  while (ucp_worker_progress(worker_.handle()) != 0) moved = true;
  if (*events_ != before) shm::ringDoorbell(*bell_);
  return moved;
}

void Engine::loop() {
  pthread_setname_np(pthread_self(), "prism-ucx");
  epoll_event events[4];
  while (!stop_.load(std::memory_order_acquire)) {
    if (!owner_.beginPass()) {
      owner_.park(stop_);
      continue;
    }
    const bool moved = pass();
    owner_.endPass();
    if (moved) continue;
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool armed = false;
    if (owner_.beginPass()) {
      // Arming is a call into the worker, so it needs the worker too.
      idle_();
      armed = !pass() && ucp_worker_arm(worker_.handle()) == UCS_OK;
      owner_.endPass();
    }
    if (armed && !stop_.load(std::memory_order_acquire)) {
      const int n = ::epoll_wait(epoll_, events, 4, kSleepMillis);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd != event_) continue;
        uint64_t count;
        (void)!::read(event_, &count, sizeof(count));
      }
      if (n < 0 && errno != EINTR) log::warn("ucx transport: epoll_wait failed (errno %d)", errno);
    }
    sleeping_.store(false, std::memory_order_relaxed);
  }
}

}  // namespace prism::ucx
