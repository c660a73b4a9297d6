// The sleep protocol is the TCP engine's (io_sleep.h): the thread announces the sleep, arms
// the worker (UCS_ERR_BUSY means work is pending: pass again), then waits on the worker's
// event descriptor; the rank, after handing the worker back, wakes it.
#include "transports/ucx/ucx_engine.h"

#include <pthread.h>
#include <sys/epoll.h>

#include <utility>

#include "base/error.h"
#include "base/log.h"
#include "transports/shm/futex_doorbell.h"
#include "transports/ucx/ucx_api.h"
#include "transports/ucx/ucx_worker.h"

namespace prism::ucx {

namespace {

// A safety net only: the worker's descriptor and the eventfd wake the thread.
constexpr int kSleepMillis = 1000;

}  // namespace

Engine::Engine(Worker& worker, shm::DoorbellBlock* bell, const uint64_t* events,
               std::function<void()> idle)
    : worker_(worker),
      bell_(bell),
      events_(events),
      idle_(std::move(idle)),
      sleep_("ucx transport") {
  sleep_.watch(worker_.eventFd(), EPOLLIN);
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  stop_.store(true, std::memory_order_release);
  owner_.handBack();
  owner_.wakeParked();
  sleep_.interrupt();
  thread_.join();
  owner_.claim();
}

bool Engine::drive() {
  owner_.claim();
  return ucx::api().worker_progress(worker_.handle()) != 0;
}

void Engine::handBack() {
  if (!owner_.rankDrives()) return;
  owner_.handBack();
  sleep_.wake();
}

bool Engine::pass() {
  const uint64_t before = *events_;
  bool moved = false;
  while (ucx::api().worker_progress(worker_.handle()) != 0) moved = true;
  if (*events_ != before) shm::ringDoorbell(*bell_);
  return moved;
}

void Engine::loop() {
  pthread_setname_np(pthread_self(), "prism-ucx");
  while (!stop_.load(std::memory_order_acquire)) {
    if (!owner_.beginPass()) {
      owner_.park(stop_);
      continue;
    }
    const bool moved = pass();
    owner_.endPass();
    if (moved) continue;
    sleep_.announce();
    bool armed = false;
    if (owner_.beginPass()) {
      // Arming is a call into the worker, so it needs the worker too.
      idle_();
      armed = !pass() && ucx::api().worker_arm(worker_.handle()) == UCS_OK;
      owner_.endPass();
    }
    if (armed && !stop_.load(std::memory_order_acquire)) sleep_.sleep(kSleepMillis);
    sleep_.awake();
  }
}

}  // namespace prism::ucx
