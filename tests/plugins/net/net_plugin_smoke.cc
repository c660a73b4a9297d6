// The prismtest network plugin on its own, loaded as a host library loads it: dlopen, pick
// the newest ncclNetPlugin_vN (or the one named), then two ranks, one thread each, connect
// both ways and stream messages of awkward sizes in both directions at once with up to
// NCCL_NET_MAX_REQUESTS outstanding (smoke_traffic.cc); then a too-long message and a peer
// that closes must be reported as errors.
//
// Usage: net_plugin_smoke PLUGIN.so [--version N] [--expect-version N]
//                                   [--expect traffic|no-table|no-devices|init-fails]
// Exit status 0 when every check passed.
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "tests/plugins/net/smoke_net.h"

namespace prismtest::smoke {

std::mutex printMutex;
std::atomic<int> failures{0};

void fail(const char* fmt, ...) {
  std::lock_guard<std::mutex> lock(printMutex);
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "FAILED: ");
  vfprintf(stderr, fmt, args);
  fprintf(stderr, "\n");
  va_end(args);
  ++failures;
}

namespace {

std::atomic<int> warnings{0};
std::atomic<int> initLines{0};  ///< INFO "prismtest plugin v<N> initialized" lines seen
std::atomic<int> expectedInitVersion{0};

void logger(ncclDebugLogLevel level, unsigned long flags, const char* file, int line,
            const char* fmt, ...) {
  char text[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof(text), fmt, args);
  va_end(args);
  if (level == NCCL_LOG_WARN) ++warnings;
  std::string expected =
      "prismtest plugin v" + std::to_string(expectedInitVersion.load()) + " initialized";
  if (level == NCCL_LOG_INFO && (flags & NCCL_INIT) != 0 && (flags & NCCL_NET) != 0 &&
      strstr(text, expected.c_str()) != nullptr) {
    ++initLines;
  }
  std::lock_guard<std::mutex> lock(printMutex);
  fprintf(stderr, "[plugin %s] %s:%d %s\n", level == NCCL_LOG_WARN ? "WARN" : "INFO", file, line,
          text);
}

double envOr(const char* name, double fallback) {
  const char* value = getenv(name);
  return value != nullptr && value[0] != '\0' ? atof(value) : fallback;
}

void checkProperties(Net& net) {
  Properties props;
  if (net.properties(0, &props) != ncclSuccess) return fail("getProperties(0) failed");
  if (props.name == nullptr || strcmp(props.name, "prismtest") != 0) fail("name");
  if (props.pciPath == nullptr) fail("pciPath is null");
  if (props.guid != 0x5072697) fail("guid %llx", static_cast<unsigned long long>(props.guid));
  if (props.ptrSupport != NCCL_PTR_HOST) fail("ptrSupport %d", props.ptrSupport);
  if (props.speed != static_cast<int>(envOr("PRISMTEST_NET_SPEED_MBPS", 10000))) {
    fail("speed %d", props.speed);
  }
  if (props.latency != static_cast<float>(envOr("PRISMTEST_NET_LATENCY_US", 20.0))) {
    fail("latency %g", props.latency);
  }
  if (props.maxComms != 65536 || props.maxRecvs != 1 || props.port != 1) fail("limits");
  if (props.netDeviceType != NCCL_NET_DEVICE_HOST) fail("netDeviceType");
  if (net.version() >= 9 && (props.maxP2pBytes < (size_t{1} << 31) || props.vProps.ndevs != 1)) {
    fail("maxP2pBytes %zu, vProps.ndevs %d", props.maxP2pBytes, props.vProps.ndevs);
  }
  if (net.version() >= 11 && props.maxMultiRequestSize != 1) fail("maxMultiRequestSize");
  Properties none;
  if (net.properties(1, &none) == ncclSuccess) fail("getProperties(1) succeeded");
}

/// One rank: its v11 context, its listener, and its comms to and from the other rank.
struct Rank {
  void* ctx = nullptr;
  char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
  void* listenComm = nullptr;
  void* sendComm = nullptr;
  void* recvComm = nullptr;
};

/// Connects to the peer's handle and accepts the peer's connection, both by polling.
void connectRank(Net& net, Rank& me, const char* peerHandle, int rank) {
  char handle[NCCL_NET_HANDLE_MAXSIZE];
  memcpy(handle, peerHandle, sizeof(handle));  // the host carries a copy to the peer
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (me.sendComm == nullptr || me.recvComm == nullptr) {
    if (std::chrono::steady_clock::now() > deadline) {
      return fail("rank %d: connect/accept did not finish in 20 s", rank);
    }
    if (me.sendComm == nullptr && net.connect(me.ctx, handle, &me.sendComm) != ncclSuccess) {
      return fail("rank %d: connect failed", rank);
    }
    if (me.recvComm == nullptr && net.accept(me.listenComm, &me.recvComm) != ncclSuccess) {
      return fail("rank %d: accept failed", rank);
    }
  }
}

struct Options {
  const char* path = nullptr;
  int version = 0;        ///< the table to use; 0: the newest
  int expectVersion = 0;  ///< the newest table must be this one
  std::string expect = "traffic";
};

/// Everything after the table is chosen; the checks record failures as they go.
void run(Net& net, const Options& options) {
  Rank ranks[2];
  ncclResult_t initResult = ncclSuccess;
  for (Rank& rank : ranks) {
    ncclResult_t result = net.init(&rank.ctx, logger);
    if (result != ncclSuccess) initResult = result;
  }
  if (options.expect == "init-fails") {
    if (initResult != ncclSystemError) fail("init returned %d, not ncclSystemError", initResult);
    return;
  }
  if (initResult != ncclSuccess) return fail("init returned %d", initResult);
  if (initLines != 2) fail("%d INFO lines \"prismtest plugin vN initialized\"", initLines.load());
  int ndev = -1;
  if (net.devices(&ndev) != ncclSuccess) fail("devices failed");
  if (options.expect == "no-devices") {
    if (ndev != 0) fail("devices() reported %d", ndev);
    return;
  }
  if (ndev != 1) return fail("devices() reported %d", ndev);
  checkProperties(net);

  for (Rank& rank : ranks) {
    if (net.listen(rank.ctx, rank.handle, &rank.listenComm) != ncclSuccess) return fail("listen");
  }
  std::thread second([&] { connectRank(net, ranks[1], ranks[0].handle, 1); });
  connectRank(net, ranks[0], ranks[1].handle, 0);
  second.join();
  if (failures != 0) return;

  int warningsBefore = warnings;
  std::thread other([&] { exchange(net, ranks[1].sendComm, ranks[1].recvComm, 1); });
  exchange(net, ranks[0].sendComm, ranks[0].recvComm, 0);
  other.join();
  if (warnings != warningsBefore) fail("WARN lines during clean traffic");
  checkErrors(net, ranks[0].sendComm, ranks[1].recvComm, &ranks[1].sendComm, ranks[0].recvComm);
  if (warnings < warningsBefore + 2) fail("errors were not logged as WARN lines");

  for (Rank& rank : ranks) {
    if (rank.sendComm != nullptr && net.closeSend(rank.sendComm) != ncclSuccess) fail("closeSend");
    if (net.closeRecv(rank.recvComm) != ncclSuccess) fail("closeRecv");
    if (net.closeListen(rank.listenComm) != ncclSuccess) fail("closeListen");
    if (net.finalize(rank.ctx) != ncclSuccess) fail("finalize");
  }
}

}  // namespace
}  // namespace prismtest::smoke

int main(int argc, char** argv) {
  using namespace prismtest::smoke;
  Options options;
  options.path = argc > 1 ? argv[1] : nullptr;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--version") options.version = atoi(argv[i + 1]);
    if (flag == "--expect-version") options.expectVersion = atoi(argv[i + 1]);
    if (flag == "--expect") options.expect = argv[i + 1];
  }
  if (options.path == nullptr) {
    fprintf(stderr, "usage: %s PLUGIN.so [--version N] [--expect-version N] [--expect MODE]\n",
            argv[0]);
    return 2;
  }
  void* library = dlopen(options.path, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    fprintf(stderr, "FAILED: dlopen: %s\n", dlerror());
    return 1;
  }
  std::unique_ptr<Net> net = loadNet(library, options.version);
  if (options.expect == "no-table") {
    if (net != nullptr) fail("found a v%d table", net->version());
  } else if (net == nullptr) {
    fail("no ncclNetPlugin_v%s table",
         options.version != 0 ? std::to_string(options.version).c_str() : "8..11");
  } else {
    if (options.expectVersion != 0 && net->version() != options.expectVersion) {
      fail("newest table is v%d, expected v%d", net->version(), options.expectVersion);
    }
    fprintf(stderr, "using ncclNetPlugin_v%d of %s\n", net->version(), options.path);
    expectedInitVersion = net->version();
    run(*net, options);
  }
  net.reset();
  dlclose(library);
  fprintf(stderr, "%s: %d failed checks\n", failures == 0 ? "PASSED" : "FAILED", failures.load());
  return failures == 0 ? 0 : 1;
}
