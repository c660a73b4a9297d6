#include "transports/net_plugin/net_engine.h"

#include <pthread.h>

#include <utility>

#include "transports/shm/futex_doorbell.h"

namespace prism::net {

namespace {

// Idle passes the thread only yields between, before it sleeps a millisecond per pass: a
// request that completes soon after the last one is seen without a sleep's delay.
constexpr int kYieldingPasses = 256;

}  // namespace

Engine::Engine(shm::DoorbellBlock* bell, std::function<bool()> poll)
    : bell_(bell), poll_(std::move(poll)), sleep_("net plugin transport") {
  owner_.claim();
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
  return poll_();
}

void Engine::handBack() {
  if (!owner_.rankDrives()) return;
  owner_.handBack();
  sleep_.wake();
}

void Engine::loop() {
  pthread_setname_np(pthread_self(), "prism-netplug");
  int idle = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    if (!owner_.beginPass()) {
      owner_.park(stop_);
      idle = 0;
      continue;
    }
    const bool moved = poll_();
    owner_.endPass();
    if (moved) {
      shm::ringDoorbell(*bell_);
      idle = 0;
      continue;
    }
    if (++idle < kYieldingPasses) {
      std::this_thread::yield();
      continue;
    }
    sleep_.announce();
    bool quiet = true;
    if (owner_.beginPass()) {
      quiet = !poll_();
      owner_.endPass();
      if (!quiet) shm::ringDoorbell(*bell_);
    }
    if (quiet && !stop_.load(std::memory_order_acquire)) sleep_.sleep(1);
    sleep_.awake();
  }
}

}  // namespace prism::net
