#include "native/launch_tally.h"

#include <string>
#include <utility>

#include "config/config.h"
#include "core/error.h"

namespace prism::native {

LaunchTicket::LaunchTicket(std::shared_ptr<LaunchTally> tally) : tally_(std::move(tally)) {}

LaunchTicket::~LaunchTicket() { launched(); }

void LaunchTicket::launched() {
  if (!done_.exchange(true)) tally_->release();
}

const std::shared_ptr<LaunchTally>& LaunchTally::ofThisThread() {
  thread_local const std::shared_ptr<LaunchTally> tally = std::make_shared<LaunchTally>();
  return tally;
}

std::shared_ptr<LaunchTicket> LaunchTally::issue() {
  {
    std::lock_guard lock(mutex_);
    ++pending_;
  }
  // The ticket keeps the tally alive: the thread that issued may end before the launch.
  return std::make_shared<LaunchTicket>(shared_from_this());
}

bool LaunchTally::awaitLaunched(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return launched_.wait_for(lock, timeout, [&] { return pending_ == 0; });
}

int LaunchTally::pending() {
  std::lock_guard lock(mutex_);
  return pending_;
}

void LaunchTally::release() {
  std::lock_guard lock(mutex_);
  if (--pending_ == 0) launched_.notify_all();
}

void awaitOwnLaunches(const char* what) {
  const std::shared_ptr<LaunchTally>& tally = LaunchTally::ofThisThread();
  const int64_t seconds = config::getInt(config::Setting::Timeout);
  if (!tally->awaitLaunched(std::chrono::seconds(seconds)))
    throw Error(ncclSystemError, std::string(what) + ": device operations this thread issued " +
                                     "were not launched within " + std::to_string(seconds) +
                                     " s (PRISM_TIMEOUT_S); a peer rank may not have made the " +
                                     "same call");
}

}  // namespace prism::native
