#include "transports/common/io_sleep.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "base/error.h"
#include "base/log.h"

namespace prism {

IoSleep::IoSleep(const char* who) : who_(who) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) throwSystemError(std::string(who_) + ": epoll_create1");
  event_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_ < 0) {
    ::close(epoll_);
    throwSystemError(std::string(who_) + ": eventfd");
  }
  try {
    watch(event_, EPOLLIN);
  } catch (...) {
    ::close(event_);
    ::close(epoll_);
    throw;
  }
}

IoSleep::~IoSleep() {
  ::close(event_);
  ::close(epoll_);
}

void IoSleep::watch(int fd, uint32_t events) {
  epoll_event e{};
  e.events = events;
  e.data.fd = fd;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e) != 0) {
    throwSystemError(std::string(who_) + ": epoll_ctl");
  }
}

void IoSleep::announce() {
  sleeping_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void IoSleep::sleep(int millis) {
  epoll_event events[32];
  const int n = ::epoll_wait(epoll_, events, 32, millis);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd != event_) continue;
    uint64_t count;
    (void)!::read(event_, &count, sizeof(count));
  }
  if (n < 0 && errno != EINTR) log::warn("%s: epoll_wait failed (errno %d)", who_, errno);
}

void IoSleep::wake() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!sleeping_.load(std::memory_order_relaxed)) return;
  interrupt();
}

void IoSleep::interrupt() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread will wake anyway.
  (void)!::write(event_, &one, sizeof(one));
}

}  // namespace prism
