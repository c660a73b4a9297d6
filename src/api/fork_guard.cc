#include "src/api/fork_guard.h"

#include <pthread.h>

#include <atomic>

namespace prism::api {

namespace {

std::atomic<uint64_t> gGeneration{0};

// Registered when the library loads, before any handle exists and so before any fork
// that could inherit one.
const bool gRegistered = [] {
  pthread_atfork(nullptr, nullptr, [] { gGeneration.fetch_add(1, std::memory_order_relaxed); });
  return true;
}();

}  // namespace

uint64_t forkGeneration() { return gGeneration.load(std::memory_order_relaxed); }

}  // namespace prism::api
