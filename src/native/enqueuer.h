// Device enqueues that meet peers on the host, run off the progress thread.
//
// A device engine whose enqueue exchanges messages with its peers before it returns
// (Engine::needsHostRendezvous: ranks in separate processes, point-to-point between ranks
// that are threads of one process, and the native API's collectives, which order the
// ranks with CUDA events exchanged on the host: device::Launch::AfterPeers) blocks until
// every peer has started the same call. The native API's one progress thread serves
// every communicator of its process, so two thread ranks of one process, or one
// process's communicators of two mesh dimensions, would wait on each other inside that
// thread forever. Such enqueues run on a worker thread of their communicator instead,
// and the progress thread polls it.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace prism::native {

class Enqueuer {
 public:
  Enqueuer() = default;
  Enqueuer(const Enqueuer&) = delete;
  Enqueuer& operator=(const Enqueuer&) = delete;
  /// Waits for a running job, then ends the worker thread.
  ~Enqueuer();

  /// Runs `job` on the worker thread (started on first use). The job started before must
  /// have finished (finished() returned true).
  void start(std::function<void()> job);
  /// True when no job is running or the job started last has returned. Rethrows, once,
  /// what that job threw.
  bool finished();

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::function<void()> job_;
  bool running_ = false;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace prism::native
