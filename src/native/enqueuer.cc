#include "src/native/enqueuer.h"

#include <utility>

#include "base/error.h"

namespace prism::native {

Enqueuer::~Enqueuer() {
  {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return !running_; });
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Enqueuer::start(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (running_) throw Error(ncclInternalError, "device enqueue started while one still runs");
    job_ = std::move(job);
    running_ = true;
    error_ = nullptr;
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }
  wake_.notify_one();
}

bool Enqueuer::finished() {
  std::lock_guard lock(mutex_);
  if (running_) return false;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  return true;
}

void Enqueuer::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || static_cast<bool>(job_); });
    if (!job_) return;  // stopping, nothing left to run
    std::function<void()> job = std::exchange(job_, nullptr);
    lock.unlock();
    std::exception_ptr error;
    try {
      job();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    error_ = error;
    running_ = false;
    idle_.notify_all();
  }
}

}  // namespace prism::native
