// The native API's device-enqueue worker (src/native/enqueuer.h): jobs run on a thread of
// their own, the caller polls them without blocking, and what a job throws reaches the
// caller once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "src/native/enqueuer.h"

namespace prism::native {
namespace {

using namespace std::chrono_literals;

// Polls `e` until its job finished, for at most 10 s.
bool finishes(Enqueuer& e) {
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;) {
    if (e.finished()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

TEST(Enqueuer, RunsJobsOnItsOwnThreadWithoutBlockingTheCaller) {
  Enqueuer e;
  EXPECT_TRUE(e.finished()) << "nothing started";
  std::atomic<bool> release{false};
  std::thread::id ran;
  e.start([&] {
    ran = std::this_thread::get_id();
    while (!release.load()) std::this_thread::sleep_for(1ms);
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(e.finished()) << "the job is still waiting";
  EXPECT_THROW(e.start([] {}), std::exception) << "one job at a time";
  release.store(true);
  ASSERT_TRUE(finishes(e));
  EXPECT_NE(ran, std::this_thread::get_id());
  // The worker is reused for the next job.
  int runs = 0;
  for (int i = 0; i < 3; ++i) {
    e.start([&] { ++runs; });
    ASSERT_TRUE(finishes(e));
  }
  EXPECT_EQ(runs, 3);
}

TEST(Enqueuer, RethrowsWhatAJobThrewOnce) {
  Enqueuer e;
  e.start([] { throw std::runtime_error("peer 3 never arrived"); });
  for (auto end = std::chrono::steady_clock::now() + 10s;;) {
    try {
      if (e.finished()) {
        ADD_FAILURE() << "the job's exception was lost";
        break;
      }
    } catch (const std::runtime_error& error) {
      EXPECT_STREQ(error.what(), "peer 3 never arrived");
      break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), end) << "the job never finished";
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(e.finished()) << "reported once";
}

TEST(Enqueuer, DestructionWaitsForTheRunningJob) {
  std::atomic<bool> done{false};
  {
    Enqueuer e;
    e.start([&] {
      std::this_thread::sleep_for(50ms);
      done.store(true);
    });
  }
  EXPECT_TRUE(done.load());
}

}  // namespace
}  // namespace prism::native
