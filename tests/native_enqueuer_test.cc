// The native API's device-enqueue worker (src/native/enqueuer.h): jobs run on a thread of
// their own, the caller polls them without blocking, and what a job throws reaches the
// caller once. And the per-thread tally of device operations not launched yet
// (src/native/launch_tally.h), which the overlap hooks' device buffers wait on.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "core/error.h"
#include "native/enqueuer.h"
#include "native/launch_tally.h"

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

TEST(LaunchTally, WaitsUntilEveryIssuedOperationHasLaunched) {
  LaunchTally tally;
  EXPECT_TRUE(tally.awaitLaunched(0ms)) << "nothing issued";
  auto first = std::make_shared<LaunchTally>();
  std::shared_ptr<LaunchTicket> a = first->issue();
  std::shared_ptr<LaunchTicket> b = first->issue();
  EXPECT_EQ(first->pending(), 2);
  EXPECT_FALSE(first->awaitLaunched(20ms));
  std::thread worker([&] {
    std::this_thread::sleep_for(30ms);
    a->launched();
    a->launched();  // counted once
    b->launched();
  });
  EXPECT_TRUE(first->awaitLaunched(10s)) << "both launched on another thread";
  worker.join();
  EXPECT_EQ(first->pending(), 0);
}

TEST(LaunchTally, AnOperationThatNeverLaunchesLeavesTheTallyWhenDropped) {
  auto tally = std::make_shared<LaunchTally>();
  std::shared_ptr<LaunchTicket> failed = tally->issue();
  EXPECT_FALSE(tally->awaitLaunched(1ms));
  failed.reset();  // a failed operation is dropped without launching
  EXPECT_TRUE(tally->awaitLaunched(0ms));
}

TEST(LaunchTally, EachThreadHasItsOwnAndTicketsOutliveTheirThread) {
  std::shared_ptr<LaunchTicket> fromThread;
  const LaunchTally* threadTally = nullptr;
  std::thread issuer([&] {
    threadTally = LaunchTally::ofThisThread().get();
    fromThread = LaunchTally::ofThisThread()->issue();
  });
  issuer.join();
  EXPECT_NE(threadTally, LaunchTally::ofThisThread().get());
  EXPECT_NO_THROW(awaitOwnLaunches("test")) << "this thread issued nothing";
  fromThread->launched();  // the issuing thread has ended; its tally is still alive
}

TEST(LaunchTally, AwaitOwnLaunchesTimesOutWithTheCallsName) {
  ::setenv("PRISM_TIMEOUT_S", "1", 1);
  std::shared_ptr<LaunchTicket> stuck = LaunchTally::ofThisThread()->issue();
  try {
    awaitOwnLaunches("FloatBuffer");
    ADD_FAILURE() << "returned with an operation not launched";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ncclSystemError);
    EXPECT_NE(std::string(e.what()).find("FloatBuffer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("PRISM_TIMEOUT_S"), std::string::npos) << e.what();
  }
  ::unsetenv("PRISM_TIMEOUT_S");
  stuck.reset();
  EXPECT_NO_THROW(awaitOwnLaunches("FloatBuffer"));
}

}  // namespace
}  // namespace prism::native
