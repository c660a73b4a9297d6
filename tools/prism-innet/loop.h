// One event loop of prism-innet: an epoll set over its connections, the jobs pinned to it,
// and a hand-over queue through which the accepting loop passes connections after Hello.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tools/prism-innet/connection.h"
#include "tools/prism-innet/job.h"
#include "tools/prism-innet/service.h"

namespace prism::innet {

class Loop {
 public:
  /// `listenFd` >= 0 makes this the accepting loop.
  Loop(Service& service, int index, int listenFd);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void run(const std::atomic<bool>& stop);
  /// Takes over a connection whose Hello another loop read (thread safe).
  void adopt(std::unique_ptr<Connection> c);

 private:
  void acceptAll();
  void drainHandoff();
  void onEvent(Connection& c, uint32_t events);
  /// Reads what is there; false when the connection may have moved to another loop.
  bool onReadable(Connection& c);
  /// Acts on a complete header; false when reading must stop (blocked or closed).
  bool onHeader(Connection& c);
  void onPayload(Connection& c);
  void onHello(Connection& c);
  void joinJob(Connection& c);
  void flush(Connection& c);
  void wake(Job& job);
  void connectionLost(Connection& c, const std::string& why);
  void failJob(Job& job, const std::string& reason);
  void reject(Connection& c, const std::string& reason);
  void sendError(Connection& c, const std::string& reason);
  void close(Connection& c);
  void setInterest(Connection& c);
  void sweep();
  void reap();

  Service& service_;
  int index_;
  int listenFd_;
  int epoll_ = -1;
  int wakeFd_ = -1;
  Clock::time_point lastSweep_;
  std::unordered_map<int, std::unique_ptr<Connection>> conns_;
  std::unordered_map<std::string, std::unique_ptr<Job>> jobs_;
  std::vector<std::unique_ptr<Job>> deadJobs_;
  std::vector<std::unique_ptr<Connection>> deadConns_;
  std::mutex handoffMutex_;
  std::vector<std::unique_ptr<Connection>> handoff_;
};

}  // namespace prism::innet
