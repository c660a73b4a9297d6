// Bootstrap: unique id layout and validation, interface selection, the root's admission
// rules, and allGather/barrier across ranks as threads and as forked processes.
#include "src/bootstrap/bootstrap.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/interfaces.h"
#include "base/log.h"
#include "base/random.h"
#include "base/siphash.h"
#include "src/bootstrap/protocol.h"
#include "src/bootstrap/root.h"
#include "src/bootstrap/unique_id.h"
#include "tests/harness/scoped_env.h"

namespace prism {
namespace {

using namespace bootstrap;
using namespace net;
using namespace std::chrono_literals;

/// Sets an environment variable for one scope and restores the previous value.
using prism::testing::ScopedEnv;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

uint8_t pattern(int rank, size_t bytes, size_t j) {
  return static_cast<uint8_t>(rank * 31 + bytes * 7 + j * 13);
}

// Rounds of several sizes (empty, odd, and large enough to need many partial transfers)
// and barriers. Returns "" or what went wrong; usable in a thread or a forked child.
std::string exerciseChannel(SetupChannel& channel) {
  int n = channel.size();
  int r = channel.rank();
  std::vector<int> ranks(n);
  int mine = r * 7 + 1;
  channel.allGather(&mine, ranks.data(), sizeof(int));
  for (int i = 0; i < n; ++i) {
    if (ranks[i] != i * 7 + 1) return "rank-id round: slot " + std::to_string(i) + " wrong";
  }
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{13}, size_t{4096}, size_t{200000}}) {
    std::vector<uint8_t> blob(bytes), all(bytes * n);
    for (size_t j = 0; j < bytes; ++j) blob[j] = pattern(r, bytes, j);
    channel.allGather(blob.data(), all.data(), bytes);
    for (int i = 0; i < n; ++i) {
      for (size_t j = 0; j < bytes; ++j) {
        if (all[i * bytes + j] != pattern(i, bytes, j)) {
          return std::to_string(bytes) + "-byte round: rank " + std::to_string(i) + " wrong";
        }
      }
    }
  }
  channel.barrier();
  channel.barrier();
  return "";
}

std::string exerciseRank(const ncclUniqueId& id, int rank, int nranks) {
  try {
    auto channel = connectBootstrap(id, rank, nranks);
    if (channel->rank() != rank || channel->size() != nranks) return "wrong rank/size";
    return exerciseChannel(*channel);
  } catch (const std::exception& e) {
    return e.what();
  }
}

/// Runs body(rank) on one thread per rank; returns "rank r: failure" for each failure.
std::vector<std::string> runThreads(int nranks, const std::function<std::string(int)>& body) {
  std::vector<std::string> results(nranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r) threads.emplace_back([&, r] { results[r] = body(r); });
  for (auto& t : threads) t.join();
  std::vector<std::string> failures;
  for (int r = 0; r < nranks; ++r) {
    if (!results[r].empty()) failures.push_back("rank " + std::to_string(r) + ": " + results[r]);
  }
  return failures;
}

/// Forks one process per rank running body(rank); a child reports its failure text
/// through a pipe and leaves with _exit, so no test machinery runs twice.
std::vector<std::string> runForked(int nranks, const std::function<std::string(int)>& body) {
  log::enabled(log::Level::Warn, log::kAll);  // initialize logging before forking
  std::vector<pid_t> pids;
  std::vector<int> pipes;
  for (int r = 0; r < nranks; ++r) {
    int fds[2];
    if (pipe(fds) != 0) return {"pipe failed"};
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      std::string result = body(r);
      ssize_t ignored = write(fds[1], result.data(), result.size());
      (void)ignored;
      _exit(result.empty() ? 0 : 1);
    }
    close(fds[1]);
    pids.push_back(pid);
    pipes.push_back(fds[0]);
  }
  std::vector<std::string> failures;
  auto deadline = Clock::now() + 20s;
  for (int r = 0; r < nranks; ++r) {
    int status = 0;
    while (waitpid(pids[r], &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        kill(pids[r], SIGKILL);
        waitpid(pids[r], &status, 0);
        failures.push_back("rank " + std::to_string(r) + ": hung");
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    char text[4096];
    ssize_t n = read(pipes[r], text, sizeof(text));
    close(pipes[r]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failures.push_back("rank " + std::to_string(r) + " exit " + std::to_string(status) + ": " +
                         std::string(text, n > 0 ? n : 0));
    }
  }
  return failures;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  return all;
}

// ---------------------------------------------------------------- unique id

TEST(SipHash, MatchesThePaperTestVectors) {
  uint8_t key[16], message[15];
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 15; ++i) message[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(sipHash24(key, message, 15), 0xa129ca6149be45e5ull);
  EXPECT_EQ(sipHash24(key, message, 0), 0x726fdb47dd0e0e31ull);
}

TEST(UniqueId, RoundTripsAndTagsAreDistinct) {
  ncclUniqueId a, b;
  createUniqueId(&a);
  createUniqueId(&b);
  EXPECT_NO_THROW(validateUniqueId(a));
  UniqueIdFields fa = decodeUniqueId(a);
  EXPECT_EQ(fa.root.family, SocketAddress::Family::IPv4);
  EXPECT_NE(fa.root.port, 0);
  std::string tag = uniqueIdTag(a);
  EXPECT_EQ(tag.size(), 16u);
  EXPECT_EQ(tag.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(tag, uniqueIdTag(a));
  EXPECT_NE(tag, uniqueIdTag(b));
  EXPECT_NE(std::memcmp(&a, &b, sizeof(a)), 0);

  UniqueIdFields v6;  // the layout already carries IPv6 addresses
  v6.root.family = SocketAddress::Family::IPv6;
  for (int i = 0; i < 16; ++i) v6.root.ip[i] = static_cast<uint8_t>(0xf0 + i);
  v6.root.port = 65535;
  v6.secret.fill(0x5a);
  ncclUniqueId id;
  encodeUniqueId(v6, &id);
  UniqueIdFields back = decodeUniqueId(id);
  EXPECT_EQ(back.root.family, v6.root.family);
  EXPECT_EQ(back.root.ip, v6.root.ip);
  EXPECT_EQ(back.root.port, v6.root.port);
  EXPECT_EQ(back.secret, v6.secret);
}

ncclResult_t validationCode(const ncclUniqueId& id) {
  try {
    validateUniqueId(id);
    return ncclSuccess;
  } catch (const Error& e) {
    return e.code();
  }
}

TEST(UniqueId, RejectsGarbageQuickly) {
  auto start = Clock::now();
  ncclUniqueId zero{};
  EXPECT_EQ(validationCode(zero), ncclInvalidArgument);
  ncclUniqueId good;
  createUniqueId(&good);
  // Every single-bit corruption is caught (checksum or field checks).
  for (size_t byte = 0; byte < sizeof(good.internal); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      ncclUniqueId bad = good;
      bad.internal[byte] ^= static_cast<char>(1 << bit);
      ASSERT_EQ(validationCode(bad), ncclInvalidArgument) << "byte " << byte << " bit " << bit;
    }
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 10000; ++i) {
    ncclUniqueId random;
    for (auto& c : random.internal) c = static_cast<char>(rng());
    ASSERT_EQ(validationCode(random), ncclInvalidArgument);
  }
  try {
    connectBootstrap(zero, 0, 1);
    FAIL() << "garbage id accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ncclInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("bad magic"), std::string::npos) << e.what();
  }
  EXPECT_LT(secondsSince(start), 1.0);
}

TEST(UniqueId, RejectsBadRankArguments) {
  ncclUniqueId id;
  createUniqueId(&id);
  for (auto [rank, nranks] : {std::pair{0, 0}, std::pair{-1, 2}, std::pair{2, 2}}) {
    try {
      connectBootstrap(id, rank, nranks);
      FAIL() << rank << "/" << nranks << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ncclInvalidArgument);
    }
  }
}

// ---------------------------------------------------------------- interfaces

Interface iface(const std::string& name, bool up, bool loopback, bool v6 = false) {
  Interface i;
  i.name = name;
  i.up = up;
  i.loopback = loopback;
  if (v6) i.address.family = SocketAddress::Family::IPv6;
  return i;
}

std::string pick(const std::vector<Interface>& list, const std::string& spec) {
  auto chosen = selectInterface(list, spec);
  return chosen ? chosen->name : "<none>";
}

TEST(Interfaces, ParsesFilters) {
  IfnameFilter f = parseIfnameFilter(" ^=eth0, ib1 ,");
  EXPECT_TRUE(f.exclude);
  EXPECT_TRUE(f.exact);
  EXPECT_EQ(f.names, (std::vector<std::string>{"eth0", "ib1"}));
  EXPECT_FALSE(matchesIfnameFilter(f, "eth0"));
  EXPECT_TRUE(matchesIfnameFilter(f, "eth01"));

  IfnameFilter prefixes = parseIfnameFilter("eth,ib");
  EXPECT_FALSE(prefixes.exclude || prefixes.exact);
  EXPECT_TRUE(matchesIfnameFilter(prefixes, "eth3"));
  EXPECT_TRUE(matchesIfnameFilter(prefixes, "ib0"));
  EXPECT_FALSE(matchesIfnameFilter(prefixes, "enp1s0"));
}

TEST(Interfaces, SelectsByDefaultAndByFilter) {
  std::vector<Interface> list = {
      iface("lo", true, true),     iface("docker0", true, false),   iface("virbr0", true, false),
      iface("eth9", false, false), iface("ib0", true, false, true), iface("eth0", true, false),
      iface("eth01", true, false), iface("ib0", true, false),
  };
  EXPECT_EQ(pick(list, ""), "eth0");  // skips lo, bridges, a down one and an IPv6 address
  EXPECT_EQ(pick(list, "ib"), "ib0");
  EXPECT_EQ(pick(list, "=eth01"), "eth01");
  EXPECT_EQ(pick(list, "=eth"), "<none>");
  EXPECT_EQ(pick(list, "^docker,virbr,eth"), "ib0");
  EXPECT_EQ(pick(list, "^=eth0,docker0,virbr0"), "eth01");
  EXPECT_EQ(pick(list, "docker"), "docker0");  // explicit request wins over the default skip
  EXPECT_EQ(pick(list, "lo"), "lo");
  EXPECT_EQ(pick(list, "eth9"), "<none>");  // down

  std::vector<Interface> onlyBridges = {iface("docker0", true, false), iface("lo", true, true)};
  EXPECT_EQ(pick(onlyBridges, ""), "lo");  // falls back to loopback
  EXPECT_EQ(pick({}, ""), "<none>");
}

TEST(Interfaces, ListsThisHostAndHonorsTheSetting) {
  auto list = listInterfaces();
  EXPECT_TRUE(selectInterface(list, "").has_value());
  ScopedEnv ifname("PRISM_SOCKET_IFNAME", "=lo");
  ncclUniqueId id;
  createUniqueId(&id);
  UniqueIdFields fields = decodeUniqueId(id);
  EXPECT_EQ(fields.root.ip[0], 127);
  EXPECT_TRUE(runThreads(2, [&](int r) { return exerciseRank(id, r, 2); }).empty());
  ScopedEnv none("PRISM_SOCKET_IFNAME", "=no-such-interface");
  EXPECT_THROW(createUniqueId(&id), Error);
}

// ---------------------------------------------------------------- ranks

class BootstrapRanks : public ::testing::TestWithParam<int> {};

TEST_P(BootstrapRanks, AllGatherAndBarrierAsThreads) {
  int nranks = GetParam();
  ncclUniqueId id;
  createUniqueId(&id);
  auto failures = runThreads(nranks, [&](int r) { return exerciseRank(id, r, nranks); });
  EXPECT_TRUE(failures.empty()) << joined(failures);
}

TEST_P(BootstrapRanks, AllGatherAndBarrierAsProcesses) {
  int nranks = GetParam();
  ncclUniqueId id;
  createUniqueId(&id);
  auto failures = runForked(nranks, [&](int r) { return exerciseRank(id, r, nranks); });
  EXPECT_TRUE(failures.empty()) << joined(failures);
}

INSTANTIATE_TEST_SUITE_P(Sizes, BootstrapRanks, ::testing::Values(1, 2, 5, 8));

TEST(Bootstrap, ConcurrentCommunicatorsInOneProcess) {
  constexpr int kComms = 4, kRanks = 3;
  std::vector<ncclUniqueId> ids(kComms);
  for (auto& id : ids) createUniqueId(&id);
  auto failures = runThreads(
      kComms * kRanks, [&](int t) { return exerciseRank(ids[t / kRanks], t % kRanks, kRanks); });
  EXPECT_TRUE(failures.empty()) << joined(failures);
}

// What createUniqueId does, on loopback, keeping the handle that shows the root's state.
RootStatus startLoopbackRoot(ncclUniqueId* id, Clock::duration timeout) {
  UniqueIdFields fields;
  fields.root.ip = {127, 0, 0, 1};
  Socket listener = Socket::listen(fields.root);
  fields.root = listener.localAddress();
  fillRandom(fields.secret.data(), fields.secret.size());
  encodeUniqueId(fields, id);
  return startRoot(std::move(listener), fields.secret, timeout);
}

bool stopsWithin(const RootStatus& root, Clock::duration limit) {
  auto deadline = Clock::now() + limit;
  while (root.running() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  return !root.running();
}

TEST(Bootstrap, RootExitsWhenAllRanksLeave) {
  ncclUniqueId id;
  RootStatus root = startLoopbackRoot(&id, 30s);
  auto rank0 = connectBootstrap(id, 0, 2);
  std::unique_ptr<SetupChannel> rank1;
  std::string rank1Error;
  std::thread t([&] {
    try {
      rank1 = connectBootstrap(id, 1, 2);
      rank1->barrier();
    } catch (const std::exception& e) {
      rank1Error = e.what();
    }
  });
  rank0->barrier();
  t.join();
  EXPECT_EQ(rank1Error, "");
  rank1.reset();
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(root.running());  // rank 0 may still need it
  rank0.reset();
  EXPECT_TRUE(stopsWithin(root, 2s));  // every rank registered and left
}

TEST(Bootstrap, RootWithoutRanksExitsAfterTheTimeout) {
  ncclUniqueId id;
  RootStatus root = startLoopbackRoot(&id, 1s);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(root.running());
  EXPECT_TRUE(stopsWithin(root, 2s));
}

// ---------------------------------------------------------------- admission

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Connects raw, reads the challenge and answers with `answer`; true if the root then
// closes the connection without sending anything else.
bool rootDropsAnswer(const SocketAddress& root, const std::string& answer) {
  Socket s;
  auto deadline = Clock::now() + 5s;
  if (!Socket::connect(root, deadline, &s).ok()) return false;
  Nonce nonce;
  if (!s.recvAll(nonce.data(), nonce.size(), deadline).ok()) return false;
  if (!s.sendAll(answer.data(), answer.size(), deadline).ok()) return false;
  char byte;
  return s.recvAll(&byte, 1, deadline).kind == IoStatus::Kind::Closed;
}

TEST(Bootstrap, RogueClientsAreDroppedAndLegitRanksFinish) {
  char logPath[] = "/tmp/prism_bootstrap_log_XXXXXX";
  int fd = mkstemp(logPath);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    ScopedEnv debug("PRISM_DEBUG", "WARN");
    ScopedEnv file("PRISM_DEBUG_FILE", logPath);
    // Set before any rank starts (the environment must not change under running threads);
    // it bounds how long the forged client below keeps retrying.
    ScopedEnv fast("PRISM_BOOTSTRAP_TIMEOUT_S", "2");
    log::reset();
    ncclUniqueId id;
    createUniqueId(&id);
    UniqueIdFields fields = decodeUniqueId(id);

    // A silent connection that never answers the challenge must not stall the root.
    Socket idle;
    ASSERT_TRUE(Socket::connect(fields.root, Clock::now() + 5s, &idle).ok());
    std::atomic<bool> legitDone{false};
    std::vector<std::string> failures;
    std::thread legit([&] {
      failures = runThreads(3, [&](int r) { return exerciseRank(id, r, 3); });
      legitDone = true;
    });
    EXPECT_TRUE(rootDropsAnswer(fields.root, std::string(kProofBytes, 'x')));
    EXPECT_TRUE(rootDropsAnswer(fields.root, "GET / HTTP/1.1\r\n\r\n"));

    // A client holding an id with the right address but a wrong secret never gets in.
    UniqueIdFields forged = fields;
    forged.secret[0] ^= 1;
    ncclUniqueId forgedId;
    encodeUniqueId(forged, &forgedId);
    try {
      connectBootstrap(forgedId, 0, 3);
      ADD_FAILURE() << "forged secret accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ncclSystemError);
      EXPECT_NE(std::string(e.what()).find("cannot reach bootstrap root"), std::string::npos);
    }
    legit.join();
    EXPECT_TRUE(legitDone);
    EXPECT_TRUE(failures.empty()) << joined(failures);
  }
  log::reset();
  std::string log = readFile(logPath);
  unlink(logPath);
  EXPECT_NE(log.find(" PRISM WARN bootstrap: root at"), std::string::npos) << log;
  EXPECT_NE(log.find("refused"), std::string::npos) << log;
  EXPECT_NE(log.find("(bad secret)"), std::string::npos) << log;
}

// A process listening where the root should be, without the secret (it guessed the port,
// or took it first): the rank must prove itself, then wait for the root's proof, and send
// nothing about itself (its rank, its host) when that proof is wrong.
TEST(Bootstrap, ImpostorRootLearnsNothingBeyondTheProof) {
  ScopedEnv fast("PRISM_BOOTSTRAP_TIMEOUT_S", "2");
  ncclUniqueId real;
  createUniqueId(&real);
  UniqueIdFields fields = decodeUniqueId(real);
  SocketAddress here = fields.root;
  here.port = 0;
  Socket impostor = Socket::listen(here);
  fields.root = impostor.localAddress();
  ncclUniqueId id;
  encodeUniqueId(fields, &id);

  std::string clientError;
  std::thread client([&] {
    try {
      connectBootstrap(id, 1, 2);
      clientError = "connected to the impostor";
    } catch (const Error& e) {
      clientError = e.what();
    }
  });
  const auto deadline = Clock::now() + 5s;
  SocketAddress peer;
  Socket conn;
  while (!(conn = impostor.accept(&peer)) && Clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(conn) << "the rank never connected";
  Nonce nonce{};
  ASSERT_TRUE(conn.sendAll(nonce.data(), nonce.size(), deadline).ok());
  uint8_t proofAndNonce[kProofBytes + kNonceBytes];
  ASSERT_TRUE(conn.recvAll(proofAndNonce, sizeof(proofAndNonce), deadline).ok());
  Proof forged{};
  ASSERT_TRUE(conn.sendAll(forged.data(), forged.size(), deadline).ok());
  // Whatever the rank sends now (before it hangs up) is what an impostor would learn.
  pollfd readable{conn.fd(), POLLIN, 0};
  ssize_t leaked = 0;
  if (poll(&readable, 1, 1000) == 1) {
    uint8_t more[64];
    leaked = recv(conn.fd(), more, sizeof(more), MSG_DONTWAIT);
  }
  EXPECT_LE(leaked, 0) << "the rank sent " << leaked << " more bytes after a forged root proof";
  client.join();
  EXPECT_NE(clientError.find("did not prove that it knows the secret"), std::string::npos)
      << clientError;
}

// A flood at the root while the ranks start: idle connections that never answer and
// connections that send random bytes, 10^4 of each, from two other processes. The root
// evicts the oldest unproven connection when its table is full and gives each one a short
// deadline, so the ranks still get in, close to their normal time. The refusals are logged
// at WARN with logging off, as a count, at most once a minute.
TEST(Bootstrap, InitSurvivesAConnectionFloodAndLogsItOnce) {
  ScopedEnv noDebug("PRISM_DEBUG", nullptr);
  ScopedEnv noNcclDebug("NCCL_DEBUG", nullptr);
  ScopedEnv fast("PRISM_BOOTSTRAP_TIMEOUT_S", "20");
  log::reset();
  auto timeInit = [](const ncclUniqueId& id) {
    const auto start = Clock::now();
    auto failures = runThreads(3, [&](int r) { return exerciseRank(id, r, 3); });
    EXPECT_TRUE(failures.empty()) << joined(failures);
    return Clock::now() - start;
  };
  ncclUniqueId quiet;
  createUniqueId(&quiet);
  const auto normal = timeInit(quiet);

  ncclUniqueId id;
  createUniqueId(&id);
  const SocketAddress root = decodeUniqueId(id).root;
  char logPath[] = "/tmp/prism_flood_log_XXXXXX";
  const int logFd = mkstemp(logPath);
  ASSERT_GE(logFd, 0);
  const int savedStderr = dup(STDERR_FILENO);
  dup2(logFd, STDERR_FILENO);

  std::vector<pid_t> flooders;
  for (bool randomBytes : {false, true}) {
    const pid_t pid = fork();
    if (pid == 0) {
      std::vector<Socket> held;
      std::mt19937_64 rng(randomBytes ? 2 : 1);
      for (int i = 0; i < 10000; ++i) {
        Socket s;
        if (!Socket::connect(root, Clock::now() + 1s, &s).ok()) continue;
        if (randomBytes) {
          uint64_t junk[4] = {rng(), rng(), rng(), rng()};
          (void)s.sendAll(junk, sizeof(junk), Clock::now() + 100ms);
        }
        held.push_back(std::move(s));
      }
      pause();
      _exit(0);
    }
    flooders.push_back(pid);
  }
  std::this_thread::sleep_for(300ms);  // the flood is under way
  const auto flooded = timeInit(id);
  for (pid_t pid : flooders) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  log::reset();
  dup2(savedStderr, STDERR_FILENO);
  close(savedStderr);
  close(logFd);
  std::string log = readFile(logPath);
  unlink(logPath);
  EXPECT_LT(flooded, normal + 2s) << "init took " << std::chrono::duration<double>(flooded).count()
                                  << " s";
  size_t lines = 0;
  for (size_t at = log.find("refused"); at != std::string::npos; at = log.find("refused", at + 1))
    ++lines;
  EXPECT_GE(lines, 1u) << "nothing logged with logging off:\n" << log;
  EXPECT_LE(lines, 3u) << "the refusals were not rate-limited:\n" << log;
  EXPECT_NE(log.find(" PRISM WARN bootstrap: root at"), std::string::npos) << log;
}

ncclResult_t connectCode(const ncclUniqueId& id, int rank, int nranks, std::string* what) {
  try {
    connectBootstrap(id, rank, nranks);
    return ncclSuccess;
  } catch (const Error& e) {
    *what = e.what();
    return e.code();
  }
}

TEST(Bootstrap, DuplicateRankAndInconsistentSizeAreRejected) {
  ncclUniqueId id;
  createUniqueId(&id);
  auto first = connectBootstrap(id, 0, 2);
  std::string what;
  EXPECT_EQ(connectCode(id, 0, 2, &what), ncclInvalidUsage);
  EXPECT_NE(what.find("rank 0 is already registered"), std::string::npos) << what;
  EXPECT_EQ(connectCode(id, 1, 3, &what), ncclInvalidUsage);
  EXPECT_NE(what.find("nranks 3"), std::string::npos) << what;
  // The root still serves the legitimate pair.
  std::string second;
  std::thread t([&] { second = exerciseRank(id, 1, 2); });
  EXPECT_EQ(exerciseChannel(*first), "");
  t.join();
  EXPECT_EQ(second, "");
}

TEST(Bootstrap, DeadRootTimesOut) {
  SocketAddress loopback;
  loopback.ip = {127, 0, 0, 1};
  UniqueIdFields fields;
  {
    Socket closed = Socket::listen(loopback);  // take a free port, then release it
    fields.root = closed.localAddress();
  }
  ncclUniqueId id;
  encodeUniqueId(fields, &id);
  ScopedEnv fast("PRISM_BOOTSTRAP_TIMEOUT_S", "1");
  auto start = Clock::now();
  std::string what;
  EXPECT_EQ(connectCode(id, 0, 2, &what), ncclSystemError);
  double took = secondsSince(start);
  EXPECT_NE(what.find("cannot reach bootstrap root at " + fields.root.toString()),
            std::string::npos)
      << what;
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 3.0);
}

TEST(Bootstrap, IdleRootGivesUpAndNamesMissingRanks) {
  ScopedEnv fast("PRISM_BOOTSTRAP_TIMEOUT_S", "1");
  ncclUniqueId id;
  RootStatus root = startLoopbackRoot(&id, 1s);
  auto channel = connectBootstrap(id, 0, 3);
  auto start = Clock::now();
  int mine = 0, all[3];
  try {
    channel->allGather(&mine, all, sizeof(int));
    FAIL() << "allGather completed without ranks 1 and 2";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ncclSystemError);
    EXPECT_NE(std::string(e.what()).find("missing ranks: 1,2"), std::string::npos) << e.what();
  }
  EXPECT_LT(secondsSince(start), 3.0);
  EXPECT_TRUE(stopsWithin(root, 3s));
}

TEST(Bootstrap, AllGatherTimeoutNamesTheRound) {
  ScopedEnv fast("PRISM_TIMEOUT_S", "1");
  ncclUniqueId id;
  createUniqueId(&id);
  auto rank0 = connectBootstrap(id, 0, 2);
  auto rank1 = connectBootstrap(id, 1, 2);  // registered, but never takes part
  auto start = Clock::now();
  int mine = 0, all[2];
  try {
    rank0->allGather(&mine, all, sizeof(int));
    FAIL() << "allGather completed without rank 1";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ncclSystemError);
    EXPECT_NE(std::string(e.what()).find("allGather round 0 timed out"), std::string::npos)
        << e.what();
  }
  EXPECT_LT(secondsSince(start), 3.0);
  try {
    rank0->barrier();
    FAIL() << "a failed channel was reused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("earlier failure"), std::string::npos) << e.what();
  }
}

TEST(Bootstrap, RankThatLeavesFailsTheRoundForOthers) {
  ncclUniqueId id;
  createUniqueId(&id);
  auto rank0 = connectBootstrap(id, 0, 2);
  auto rank1 = connectBootstrap(id, 1, 2);
  std::thread leaver([&] {
    std::this_thread::sleep_for(100ms);
    rank1.reset();  // like a crashed process: the socket closes mid-round
  });
  auto start = Clock::now();
  try {
    rank0->barrier();
    ADD_FAILURE() << "barrier completed without rank 1";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ncclRemoteError);
    EXPECT_NE(std::string(e.what()).find("rank 1 disconnected"), std::string::npos) << e.what();
  }
  leaver.join();
  EXPECT_LT(secondsSince(start), 2.0);
}

}  // namespace
}  // namespace prism
