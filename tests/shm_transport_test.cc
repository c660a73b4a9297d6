// The shared-memory transport with ranks as threads, as forked processes, and as a mix:
// message content and order, the slot protocol's edge cases, doorbell wake-ups and
// timeouts, and that no name is left behind in /dev/shm.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/setup_channel.h"
#include "transports/transport.h"

namespace prism {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kScratchPerRank = 256;  // the transport's setup records are 24 bytes
constexpr auto kTestDeadline = std::chrono::seconds(15);

std::string uniqueName(const char* what) {
  static std::atomic<int> counter{0};
  return std::string("test-") + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

bool nameExists(const std::string& name) {
  return std::filesystem::exists("/dev/shm/prism-" + name);
}

// Ranks as threads of this process: a generation barrier with a timeout, so a rank that
// fails makes the others throw instead of hang.
class ThreadRendezvous {
 public:
  explicit ThreadRendezvous(int ranks) : ranks_(ranks), scratch_(ranks * kScratchPerRank) {}

  void allGather(int rank, const void* mine, void* all, size_t bytes) {
    if (bytes > kScratchPerRank) throw std::length_error("test allGather too large");
    std::memcpy(&scratch_[rank * kScratchPerRank], mine, bytes);
    wait();
    for (int r = 0; r < ranks_; ++r) {
      std::memcpy(static_cast<char*>(all) + r * bytes, &scratch_[r * kScratchPerRank], bytes);
    }
    wait();  // nobody overwrites scratch before everyone has read it
  }
  int ranks() const { return ranks_; }

 private:
  void wait() {
    std::unique_lock lock(mutex_);
    uint64_t generation = generation_;
    if (++arrived_ == ranks_) {
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
    } else if (!changed_.wait_for(lock, kTestDeadline, [&] { return generation_ != generation; })) {
      throw Error(ncclInternalError, "test barrier timed out");
    }
  }

  int ranks_;
  std::vector<char> scratch_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

// Ranks in any mix of processes and threads: a process-shared barrier and scratch area in
// an anonymous shared mapping made before fork().
struct SharedRendezvous {
  pthread_barrier_t barrier;
  int rankCount;
  char errors[16][200];  // a failing rank's reason, read by the parent
  char scratch[16 * kScratchPerRank];

  static SharedRendezvous* create(int ranks) {
    void* p = ::mmap(nullptr, sizeof(SharedRendezvous), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    auto* r = static_cast<SharedRendezvous*>(p);
    pthread_barrierattr_t attr;
    pthread_barrierattr_init(&attr);
    pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&r->barrier, &attr, static_cast<unsigned>(ranks));
    pthread_barrierattr_destroy(&attr);
    r->rankCount = ranks;
    return r;
  }
  int ranks() const { return rankCount; }
  void destroy() {
    pthread_barrier_destroy(&barrier);
    ::munmap(this, sizeof(SharedRendezvous));
  }
  void allGather(int rank, const void* mine, void* all, size_t bytes) {
    if (bytes > kScratchPerRank) throw std::length_error("test allGather too large");
    std::memcpy(&scratch[rank * kScratchPerRank], mine, bytes);
    pthread_barrier_wait(&barrier);
    for (int r = 0; r < rankCount; ++r) {
      std::memcpy(static_cast<char*>(all) + r * bytes, &scratch[r * kScratchPerRank], bytes);
    }
    pthread_barrier_wait(&barrier);
  }
};

template <typename Rendezvous>
class TestSetup final : public SetupChannel {
 public:
  TestSetup(Rendezvous& rendezvous, int rank) : rendezvous_(rendezvous), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return rendezvous_.ranks(); }
  void allGather(const void* mine, void* all, size_t bytes) override {
    rendezvous_.allGather(rank_, mine, all, bytes);
  }

 private:
  Rendezvous& rendezvous_;
  int rank_;
};

// Runs body(rank, setup) on `ranks` threads; returns each rank's failure ("" if none).
template <typename Rendezvous>
std::vector<std::string> runThreads(Rendezvous& rendezvous, int firstRank, int ranks,
                                    const std::function<void(int, SetupChannel&)>& body) {
  std::vector<std::string> failures(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int i = 0; i < ranks; ++i) {
    threads.emplace_back([&, i] {
      try {
        TestSetup<Rendezvous> setup(rendezvous, firstRank + i);
        body(firstRank + i, setup);
      } catch (const std::exception& e) {
        failures[static_cast<size_t>(i)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures;
}

void expectNoFailures(const std::vector<std::string>& failures) {
  for (size_t r = 0; r < failures.size(); ++r) EXPECT_EQ(failures[r], "") << "rank " << r;
}

// Message m from src to dst: its length and its bytes, so the receiver can check both and
// thereby the order. The first message is 1 byte, the second fills a slot.
size_t messageBytes(int src, int dst, int m, size_t slotBytes) {
  if (m == 0) return 1;
  if (m == 1) return slotBytes;
  return 1 + (static_cast<size_t>(m) * 7919 + static_cast<size_t>(src) * 131 +
              static_cast<size_t>(dst) * 17) %
                 slotBytes;
}

std::byte patternByte(int src, int dst, int m, size_t i) {
  return static_cast<std::byte>(src * 37 + dst * 101 + m * 13 + static_cast<int>(i * 7 + (i >> 8)));
}

enum class WaitMode { kPoll, kBlock };

struct ExchangeStats {
  int sleeps = 0;
  int timeouts = 0;  ///< waits that ran to their timeout with nothing to do: lost wake-ups
};

/// A tag using all 64 bits, different for every message.
uint64_t messageTag(int from, int to, int m) {
  return 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(m + 1) ^
         static_cast<uint64_t>(from << 8 | to);
}

// Every rank sends `messages` messages to every other rank while receiving from all of
// them, never blocking on one peer, so any number of ranks completes.
ExchangeStats exchangeAll(Transport& t, int messages, WaitMode mode) {
  const int n = t.size();
  const int me = t.rank();
  std::vector<int> sent(static_cast<size_t>(n), 0);
  std::vector<int> received(static_cast<size_t>(n), 0);
  sent[static_cast<size_t>(me)] = received[static_cast<size_t>(me)] = messages;
  int remaining = 2 * (n - 1) * messages;

  auto pass = [&] {
    bool progress = false;
    for (int peer = 0; peer < n; ++peer) {
      int& m = sent[static_cast<size_t>(peer)];
      while (m < messages) {
        std::span<std::byte> slot = t.sendTo(peer).acquire();
        if (slot.empty()) break;
        size_t bytes = messageBytes(me, peer, m, t.slotBytes());
        for (size_t i = 0; i < bytes; ++i) slot[i] = patternByte(me, peer, m, i);
        t.sendTo(peer).commit(bytes, messageTag(me, peer, m));
        ++m, --remaining, progress = true;
      }
    }
    for (int peer = 0; peer < n; ++peer) {
      int& m = received[static_cast<size_t>(peer)];
      while (m < messages) {
        std::span<const std::byte> msg = t.recvFrom(peer).peek();
        if (msg.empty()) break;
        size_t bytes = messageBytes(peer, me, m, t.slotBytes());
        if (msg.size() != bytes) {
          throw std::runtime_error("rank " + std::to_string(me) + ": message " + std::to_string(m) +
                                   " from " + std::to_string(peer) + " has " +
                                   std::to_string(msg.size()) + " bytes, expected " +
                                   std::to_string(bytes));
        }
        if (t.recvFrom(peer).tag() != messageTag(peer, me, m)) {
          throw std::runtime_error("rank " + std::to_string(me) + ": message " + std::to_string(m) +
                                   " from " + std::to_string(peer) + " carries the wrong tag");
        }
        for (size_t i = 0; i < bytes; ++i) {
          if (msg[i] != patternByte(peer, me, m, i)) {
            throw std::runtime_error("rank " + std::to_string(me) + ": message " +
                                     std::to_string(m) + " from " + std::to_string(peer) +
                                     " differs at byte " + std::to_string(i));
          }
        }
        t.recvFrom(peer).release();
        ++m, --remaining, progress = true;
      }
    }
    return progress;
  };

  ExchangeStats stats;
  const auto deadline = Clock::now() + kTestDeadline;
  int idle = 0;
  while (remaining > 0) {
    if (pass()) {
      idle = 0;
      continue;
    }
    if (Clock::now() > deadline) {
      throw std::runtime_error("rank " + std::to_string(me) + " stuck with " +
                               std::to_string(remaining) + " transfers left");
    }
    if (mode == WaitMode::kPoll) {
      std::this_thread::yield();
      continue;
    }
    if (++idle < 100) continue;  // spin briefly, without yielding, then sleep
    // A wait this long never expires while a peer has something for us, unless a wake-up
    // was lost.
    constexpr auto kWait = std::chrono::seconds(2);
    uint32_t ticket = t.doorbell().arm();
    if (!pass()) {
      auto start = Clock::now();
      t.doorbell().wait(ticket, kWait);
      ++stats.sleeps;
      if (Clock::now() - start >= kWait) ++stats.timeouts;
    }
    t.doorbell().disarm();
    idle = 0;
  }
  return stats;
}

ShmTransportOptions smallOptions(const char* what) {
  ShmTransportOptions options;
  options.slotBytes = 1000;  // not a multiple of the cache line on purpose
  options.slotCount = 4;
  options.name = uniqueName(what);
  return options;
}

// (a) Ranks as threads, polling.
TEST(ShmTransport, ThreadsExchangeInOrder) {
  for (int ranks : {1, 2, 3, 5, 8}) {
    SCOPED_TRACE("ranks " + std::to_string(ranks));
    ThreadRendezvous rendezvous(ranks);
    ShmTransportOptions options = smallOptions("threads");
    expectNoFailures(runThreads(rendezvous, 0, ranks, [&](int, SetupChannel& setup) {
      auto t = createShmTransport(setup, options);
      exchangeAll(*t, 100, WaitMode::kPoll);
      // No barrier: a rank that is done unmaps while its peers still read their mappings.
    }));
  }
}

TEST(ShmTransport, ReportsItsShape) {
  ThreadRendezvous rendezvous(2);
  ShmTransportOptions options = smallOptions("shape");
  expectNoFailures(runThreads(rendezvous, 0, 2, [&](int rank, SetupChannel& setup) {
    auto t = createShmTransport(setup, options);
    EXPECT_STREQ(t->name(), "shm");
    EXPECT_EQ(t->caps(), kCapNone);
    EXPECT_EQ(t->rank(), rank);
    EXPECT_EQ(t->size(), 2);
    EXPECT_EQ(t->slotBytes(), 1000u);
    EXPECT_EQ(t->slotCount(), 4);
    EXPECT_THROW(t->sendTo(rank), Error);
    EXPECT_THROW(t->recvFrom(2), Error);
    EXPECT_THROW(t->sendTo(-1), Error);
  }));
}

TEST(ShmTransport, SlotProtocolEdges) {
  ThreadRendezvous rendezvous(2);
  ShmTransportOptions options = smallOptions("edges");
  expectNoFailures(runThreads(rendezvous, 0, 2, [&](int rank, SetupChannel& setup) {
    auto t = createShmTransport(setup, options);
    int peer = 1 - rank;
    if (rank == 0) {
      SendConnection& send = t->sendTo(peer);
      EXPECT_THROW(send.commit(1, 0), Error);  // nothing acquired
      std::span<std::byte> first = send.acquire();
      ASSERT_EQ(first.size(), options.slotBytes);
      // The payload follows its 16-byte header in the same cache line.
      EXPECT_EQ(reinterpret_cast<uintptr_t>(first.data()) % 64, 16u);
      EXPECT_EQ(send.acquire().data(), first.data());  // same slot until commit
      EXPECT_THROW(send.commit(0, 0), Error);
      EXPECT_THROW(send.commit(options.slotBytes + 1, 0), Error);
      for (int i = 0; i < options.slotCount; ++i) {
        std::span<std::byte> slot = send.acquire();
        ASSERT_FALSE(slot.empty());
        slot[0] = static_cast<std::byte>(i);
        send.commit(static_cast<size_t>(i) + 1, 0);
      }
      EXPECT_TRUE(send.acquire().empty());  // full
    }
    setup.barrier();
    if (rank == 1) {
      RecvConnection& recv = t->recvFrom(peer);
      EXPECT_THROW(recv.release(), Error);  // nothing peeked
      for (int i = 0; i < options.slotCount; ++i) {
        std::span<const std::byte> msg = recv.peek();
        ASSERT_EQ(msg.size(), static_cast<size_t>(i) + 1);
        EXPECT_EQ(recv.peek().data(), msg.data());  // same message until release
        EXPECT_EQ(msg[0], static_cast<std::byte>(i));
        recv.release();
      }
      EXPECT_TRUE(recv.peek().empty());
      EXPECT_TRUE(t->recvFrom(peer).peek().empty());
    }
    setup.barrier();
    if (rank == 0) {
      EXPECT_FALSE(t->sendTo(peer).acquire().empty());  // space again
    }
  }));
}

// A peer that scribbles over a slot header (a sequence that is neither the expected one
// nor the one a ring earlier, or a length outside the slot) is reported as a remote error,
// never read as a message. The header is the 16 bytes before the payload: sequence, length.
TEST(ShmTransport, CorruptSlotHeaderIsARemoteError) {
  ThreadRendezvous rendezvous(2);
  ShmTransportOptions options = smallOptions("corrupt");
  expectNoFailures(runThreads(rendezvous, 0, 2, [&](int rank, SetupChannel& setup) {
    auto t = createShmTransport(setup, options);
    const int peer = 1 - rank;
    auto expectRemoteError = [&](const char* what) {
      try {
        t->recvFrom(peer).peek();
        ADD_FAILURE() << what << ": peek() accepted the slot";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ncclRemoteError) << what << ": " << e.what();
      }
    };
    // The slot header: u32 sequence, u32 length, u64 tag (shm_layout.h).
    uint32_t* header = nullptr;
    if (rank == 0) header = reinterpret_cast<uint32_t*>(t->sendTo(peer).acquire().data()) - 4;
    setup.barrier();
    if (rank == 1) EXPECT_TRUE(t->recvFrom(peer).peek().empty());  // untouched: nothing yet
    setup.barrier();
    if (rank == 0) header[0] = 12345;  // a sequence from nowhere
    setup.barrier();
    if (rank == 1) expectRemoteError("sequence 12345");
    setup.barrier();
    if (rank == 0) {
      header[1] = options.slotBytes + 1;  // the right sequence, a length too long
      header[0] = 1;
    }
    setup.barrier();
    if (rank == 1) expectRemoteError("length beyond the slot");
  }));
}

// (c) A sleeping rank is woken promptly by a commit toward it and by a release of a slot
// it sent, and a wait with nothing happening returns at its timeout.
TEST(ShmTransport, DoorbellWakesAndTimesOut) {
  ThreadRendezvous rendezvous(2);
  ShmTransportOptions options = smallOptions("doorbell");
  std::atomic<int64_t> rungAt{0};
  auto stamp = [] { return Clock::now().time_since_epoch().count(); };
  auto sinceStamp = [](int64_t at) {
    return std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch() -
                                                    Clock::duration(at));
  };
  expectNoFailures(runThreads(rendezvous, 0, 2, [&](int rank, SetupChannel& setup) {
    auto t = createShmTransport(setup, options);
    Doorbell& bell = t->doorbell();
    int peer = 1 - rank;

    if (rank == 0) {  // nothing happens: the wait ends at its timeout
      auto start = Clock::now();
      uint32_t ticket = bell.arm();
      bell.wait(ticket, milliseconds(30));
      bell.disarm();
      auto waited = Clock::now() - start;
      EXPECT_GE(waited, milliseconds(30));
      EXPECT_LT(waited, milliseconds(2000));  // generous: this machine is shared
    }
    setup.barrier();

    // Rank 1 sleeps until rank 0 commits a message toward it.
    if (rank == 1) {
      uint32_t ticket = bell.arm();
      setup.barrier();
      if (t->recvFrom(peer).peek().empty()) bell.wait(ticket, std::chrono::seconds(5));
      bell.disarm();
      EXPECT_LT(sinceStamp(rungAt.load()), milliseconds(100));
      EXPECT_FALSE(t->recvFrom(peer).peek().empty());
    } else {
      setup.barrier();
      std::this_thread::sleep_for(milliseconds(50));  // let rank 1 fall asleep
      t->sendTo(peer).acquire();
      rungAt = stamp();
      t->sendTo(peer).commit(1, 0);
    }
    setup.barrier();

    // Rank 0 fills its ring to rank 1 and sleeps until rank 1 releases a slot.
    if (rank == 0) {
      while (!t->sendTo(peer).acquire().empty()) t->sendTo(peer).commit(1, 0);
      uint32_t ticket = bell.arm();
      setup.barrier();
      if (t->sendTo(peer).acquire().empty()) bell.wait(ticket, std::chrono::seconds(5));
      bell.disarm();
      EXPECT_LT(sinceStamp(rungAt.load()), milliseconds(100));
      EXPECT_FALSE(t->sendTo(peer).acquire().empty());
    } else {
      setup.barrier();
      std::this_thread::sleep_for(milliseconds(50));
      rungAt = stamp();
      t->recvFrom(peer).release();
    }
    setup.barrier();
  }));
}

// (e) Eight ranks on this machine's two cores, spinning briefly and then sleeping.
TEST(ShmTransport, EightBlockingRanksComplete) {
  constexpr int kRanks = 8;
  ThreadRendezvous rendezvous(kRanks);
  ShmTransportOptions options = smallOptions("blocking");
  options.slotCount = 2;  // a small ring makes senders wait for space too
  std::atomic<int> sleeps{0};
  expectNoFailures(runThreads(rendezvous, 0, kRanks, [&](int, SetupChannel& setup) {
    auto t = createShmTransport(setup, options);
    ExchangeStats stats = exchangeAll(*t, 200, WaitMode::kBlock);
    EXPECT_EQ(stats.timeouts, 0) << "a doorbell wait ran out: lost wake-up";
    sleeps += stats.sleeps;
    setup.barrier();
  }));
  EXPECT_GT(sleeps.load(), 0) << "the test should exercise sleeping";
}

// (d) The name is gone from /dev/shm as soon as every rank holds its mapping.
TEST(ShmTransport, LeavesNothingInDevShm) {
  ThreadRendezvous rendezvous(3);
  ShmTransportOptions options = smallOptions("unlinked");
  expectNoFailures(runThreads(rendezvous, 0, 3, [&](int, SetupChannel& setup) {
    auto t = createShmTransport(setup, options);
    setup.barrier();  // every rank has constructed its transport
    EXPECT_FALSE(nameExists(options.name));
    setup.barrier();
  }));
  EXPECT_FALSE(nameExists(options.name));
}

// Rank 0 creates the shared-memory object and dies (no destructor runs) before the other
// rank opens it; the other rank's set-up then fails. The object's name must not be left
// in /dev/shm: the creator cannot remove it any more, so the surviving rank does.
TEST(ShmTransport, CreatorDyingDuringSetupLeaksNothing) {
  SharedRendezvous* shared = SharedRendezvous::create(2);
  ShmTransportOptions options = smallOptions("dead-creator");
  // The set-up's first exchange runs for real; at the second, rank 0 dies and rank 1's
  // channel reports it, as the bootstrap would.
  class DyingChannel final : public SetupChannel {
   public:
    DyingChannel(SharedRendezvous& r, int rank, pid_t creator)
        : r_(r), rank_(rank), creator_(creator) {}
    int rank() const override { return rank_; }
    int size() const override { return 2; }
    void allGather(const void* mine, void* all, size_t bytes) override {
      if (++calls_ == 1) return r_.allGather(rank_, mine, all, bytes);
      if (rank_ == 0) ::_exit(0);
      ::waitpid(creator_, nullptr, 0);
      throw Error(ncclRemoteError, "rank 0 died during set-up");
    }

   private:
    SharedRendezvous& r_;
    int rank_;
    pid_t creator_;
    int calls_ = 0;
  };
  const pid_t creator = ::fork();
  if (creator == 0) {
    DyingChannel channel(*shared, 0, 0);
    try {
      createShmTransport(channel, options);
    } catch (...) {
    }
    ::_exit(1);  // not reached: the channel exits first
  }
  DyingChannel channel(*shared, 1, creator);
  EXPECT_THROW(createShmTransport(channel, options), Error);
  EXPECT_FALSE(nameExists(options.name)) << "/dev/shm/prism-" << options.name << " was left";
  ::shm_unlink(("/prism-" + options.name).c_str());
  shared->destroy();
}

TEST(ShmTransport, FailureOnOneRankFailsAllAndCleansUp) {
  ThreadRendezvous rendezvous(3);
  ShmTransportOptions options = smallOptions("mismatch");
  auto failures = runThreads(rendezvous, 0, 3, [&](int rank, SetupChannel& setup) {
    ShmTransportOptions mine = options;
    if (rank == 2) mine.slotBytes = 2000;
    createShmTransport(setup, mine);
  });
  for (const auto& failure : failures)
    EXPECT_NE(failure.find("different options"), std::string::npos) << failure;
  EXPECT_FALSE(nameExists(options.name));

  // A name some live object already has is refused on every rank and left alone.
  options.name = uniqueName("taken");
  int fd = ::shm_open(("/prism-" + options.name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  failures = runThreads(rendezvous, 0, 3, [&](int rank, SetupChannel& setup) {
    try {
      createShmTransport(setup, options);
    } catch (const Error& e) {
      if (rank == 0) {
        EXPECT_EQ(e.code(), ncclInvalidUsage);
      }
      throw;
    }
  });
  for (const auto& failure : failures) EXPECT_NE(failure, "");
  EXPECT_TRUE(nameExists(options.name));
  ::shm_unlink(("/prism-" + options.name).c_str());

  options.name = "bad/name";
  failures = runThreads(rendezvous, 0, 3,
                        [&](int rank, SetupChannel& setup) { createShmTransport(setup, options); });
  for (const auto& failure : failures) EXPECT_NE(failure, "");
}

// Runs each of `processes` children with `threadsEach` rank threads; ranks are numbered
// process-major. Children report failures through the shared area and their exit status.
void runProcesses(int processes, int threadsEach,
                  const std::function<void(int, SetupChannel&)>& body) {
  const int ranks = processes * threadsEach;
  SharedRendezvous* shared = SharedRendezvous::create(ranks);
  std::vector<pid_t> children;
  for (int p = 0; p < processes; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto failures = runThreads(*shared, p * threadsEach, threadsEach, body);
      int status = 0;
      for (int i = 0; i < threadsEach; ++i) {
        if (failures[static_cast<size_t>(i)].empty()) continue;
        std::snprintf(shared->errors[p * threadsEach + i], sizeof(shared->errors[0]), "%s",
                      failures[static_cast<size_t>(i)].c_str());
        status = 1;
      }
      ::_exit(status);  // no gtest or static destructors in the child
    }
    children.push_back(pid);
  }
  // pthread barriers have no timeout, so the parent enforces one and kills stragglers.
  const auto deadline = Clock::now() + kTestDeadline;
  size_t finished = 0;
  std::vector<bool> done(children.size(), false);
  while (finished < children.size()) {
    for (size_t i = 0; i < children.size(); ++i) {
      int status = 0;
      if (done[i] || ::waitpid(children[i], &status, WNOHANG) != children[i]) continue;
      done[i] = true;
      ++finished;
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "process " << i;
    }
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "processes timed out";
      for (size_t i = 0; i < children.size(); ++i) {
        if (done[i]) continue;
        ::kill(children[i], SIGKILL);
        ::waitpid(children[i], nullptr, 0);
      }
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  for (int r = 0; r < ranks; ++r) EXPECT_STREQ(shared->errors[r], "") << "rank " << r;
  shared->destroy();
}

// (b) Ranks as forked processes.
TEST(ShmTransport, ProcessesExchangeInOrder) {
  for (int ranks : {2, 4}) {
    SCOPED_TRACE("ranks " + std::to_string(ranks));
    ShmTransportOptions options = smallOptions("procs");
    runProcesses(ranks, 1, [&](int rank, SetupChannel& setup) {
      auto t = createShmTransport(setup, options);
      setup.barrier();
      if (nameExists(options.name)) throw std::runtime_error("name still in /dev/shm");
      ExchangeStats stats = exchangeAll(*t, 100, rank % 2 ? WaitMode::kBlock : WaitMode::kPoll);
      if (stats.timeouts > 0) throw std::runtime_error("lost wake-up");
      setup.barrier();
    });
    EXPECT_FALSE(nameExists(options.name));
  }
}

// Two processes of two rank threads each: FIFOs and doorbells cross both boundaries.
TEST(ShmTransport, MixedThreadsAndProcesses) {
  ShmTransportOptions options = smallOptions("mixed");
  runProcesses(2, 2, [&](int, SetupChannel& setup) {
    auto t = createShmTransport(setup, options);
    ExchangeStats stats = exchangeAll(*t, 100, WaitMode::kBlock);
    if (stats.timeouts > 0) throw std::runtime_error("lost wake-up");
    setup.barrier();
  });
  EXPECT_FALSE(nameExists(options.name));
}

}  // namespace
}  // namespace prism
