// One I/O thread of the TCP transport: drives the sockets of its links with epoll and
// rings the rank's doorbell when a message arrives, a send slot frees or a link fails.
#pragma once

#include <atomic>
#include <thread>
#include <vector>

namespace prism::shm {
struct DoorbellBlock;
}

namespace prism::tcp {

class Link;
struct LinkSet;

class Engine {
 public:
  /// Starts the thread at once; `links` (a share of `set`) and `bell` must outlive the
  /// engine.
  Engine(std::vector<Link*> links, LinkSet* set, shm::DoorbellBlock* bell);
  ~Engine();  ///< stops and joins the thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Called by the rank after it committed or released a slot: wakes the thread if it
  /// sleeps. Costs one fence and one load otherwise.
  void wake();

 private:
  void loop();
  bool pumpAll();
  void awaitRelatedFailures();

  std::vector<Link*> links_;
  LinkSet* set_;
  shm::DoorbellBlock* bell_;
  int epoll_ = -1;
  int event_ = -1;
  alignas(64) std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace prism::tcp
