// prism-run: starts the ranks of a Prism job.
//   prism-run -np N [options] -- command args...
//   prism-run --hosts H --ranks-per-host R [--bandwidth 1gbit] [--delay 50us]
//             [--placement block|round-robin] [--innet "command"] -- command args...
//   both with [--bind-to core|numa|none] [--map-by core|numa]
//   both with [-x VAR[=value]]... [--tag-output]
// Every rank gets PRISM_RANK, PRISM_NRANKS, PRISM_LOCAL_RANK, PRISM_LOCAL_SIZE,
// PRISM_RENDEZVOUS and PRISM_JOB_SECRET, torchrun's RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT, and is bound to its CPUs as mpirun binds
// ranks (see docs/prism-run.md).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.h"
#include "tools/prism-run/fabric_plan.h"
#include "tools/prism-run/netns_fabric.h"
#include "tools/prism-run/process.h"
#include "tools/prism-run/rank_group.h"
#include "topology/cpu_binding.h"

namespace {

using namespace prism::run;

struct Options {
  int np = 0;
  int hosts = 0;
  int ranksPerHost = 1;
  std::string bandwidth;
  std::string delay;
  std::string placement = "block";
  std::string innet;
  int innetPort = 29600;
  int port = 29500;
  double graceSeconds = 5;
  bool verbose = false;
  bool cleanupStale = false;
  std::string bindTo;  ///< --bind-to; empty: the default (core when the ranks fit the cores)
  std::string mapBy;   ///< --map-by; empty: core
  std::vector<std::string> exports;  ///< -x VAR[=value], as mpirun takes them
  bool tagOutput = false;
  std::vector<std::string> command;
};

std::string randomHex(size_t bytes) {
  std::vector<unsigned char> data(bytes);
  size_t filled = 0;
  while (filled < bytes) {
    ssize_t n = getrandom(data.data() + filled, bytes - filled, 0);
    if (n <= 0) throw SetupError("getrandom failed");
    filled += static_cast<size_t>(n);
  }
  std::string hex;
  for (unsigned char b : data) {
    constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

// A port that is free on loopback now; the ranks' root binds it moments later.
int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    if (fd >= 0) close(fd);
    throw SetupError("cannot find a free loopback port for the rendezvous");
  }
  close(fd);
  return ntohs(sa.sin_port);
}

std::vector<std::string> splitWords(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

/// Where a job's other libraries meet (torch's env:// store): rank 0's address and a port
/// other than Prism's rendezvous.
struct Master {
  std::string address;
  int port = 0;
};

SpawnSpec rankSpec(const Options& o, int rank, int nranks, const RankSlot& slot,
                   const std::string& rendezvous, const std::string& secret, const Master& master) {
  SpawnSpec spec;
  spec.argv = o.command;
  spec.env = {"PRISM_RANK=" + std::to_string(rank), "PRISM_NRANKS=" + std::to_string(nranks),
              "PRISM_LOCAL_RANK=" + std::to_string(slot.localRank),
              "PRISM_LOCAL_SIZE=" + std::to_string(slot.localSize),
              "PRISM_RENDEZVOUS=" + rendezvous, "PRISM_JOB_SECRET=" + secret,
              // What torchrun sets, so that torch.distributed's env:// and other tools
              // that read it work under prism-run too.
              "RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(nranks),
              "LOCAL_RANK=" + std::to_string(slot.localRank),
              "LOCAL_WORLD_SIZE=" + std::to_string(slot.localSize), "MASTER_ADDR=" + master.address,
              "MASTER_PORT=" + std::to_string(master.port)};
  // -x VAR=value sets it; -x VAR passes prism-run's own value, which a rank would inherit
  // anyway (as in mpirun, where it matters on remote hosts).
  for (const std::string& e : o.exports) {
    if (e.find('=') != std::string::npos) {
      spec.env.push_back(e);
    } else if (const char* value = std::getenv(e.c_str())) {
      spec.env.push_back(e + "=" + value);
    }
  }
  return spec;
}

/// Binds every rank to its CPUs (docs/prism-run.md, "Binding ranks to cores"). All ranks
/// run on this machine, emulated hosts included, so they share out its cores in rank
/// order. Each rank learns its CPUs and the policy from its environment, so that a rank
/// running several thread ranks shares them out the same way; the decision is logged at
/// INFO (and printed with -v).
void bindRanks(const Options& o, std::vector<SpawnSpec>& ranks) {
  using namespace prism::topo;
  std::optional<BindTo> request;
  if (!o.bindTo.empty()) request = parseBindTo(o.bindTo);
  const MapBy mapBy = o.mapBy.empty() ? MapBy::Core : parseMapBy(o.mapBy).value();
  const int nranks = static_cast<int>(ranks.size());
  std::vector<int> current;
  BindingDecision d;
  bool prePinned = false;
  try {
    current = currentCpus(BindScope::Process);
    prePinned = narrowerThan(current, allowedCpus());
    d = decideBinding(request, mapBy, nranks, 1, discoverCpuLayout(current), prePinned);
  } catch (const std::exception& e) {  // hwloc failed: the ranks still run, unbound
    std::fprintf(stderr, "prism-run: cannot read this machine's cores (%s); ranks not bound\n",
                 e.what());
    return;
  }
  prism::log::info(prism::log::kInit, "prism-run: started on cpus %s: %s",
                   formatCpuList(current).c_str(), d.why.c_str());
  if (o.verbose) {
    std::fprintf(stderr, "prism-run: started on cpus %s: %s\n", formatCpuList(current).c_str(),
                 d.why.c_str());
  }
  // Ranks left unbound because they outnumber the cores hear "none", so that their thread
  // ranks do not pin themselves onto cores the other ranks share.
  std::string policy = o.bindTo;
  if (policy.empty() && !prePinned && d.bindTo == BindTo::None) policy = bindToName(d.bindTo);
  for (int r = 0; r < nranks; ++r) {
    SpawnSpec& spec = ranks[static_cast<size_t>(r)];
    if (!policy.empty()) spec.env.push_back(std::string(kBindToVar) + "=" + policy);
    if (!o.mapBy.empty()) spec.env.push_back(std::string(kMapByVar) + "=" + o.mapBy);
    const std::vector<int>& cpus = d.cpus[static_cast<size_t>(r)];
    if (cpus.empty()) continue;
    spec.cpus = cpus;
    spec.env.push_back(std::string(kCpuListVar) + "=" + formatCpuList(cpus));
    prism::log::info(prism::log::kInit, "prism-run: rank %d bound to cpus %s", r,
                     formatCpuList(cpus).c_str());
    if (o.verbose) {
      std::fprintf(stderr, "prism-run: rank %d bound to cpus %s\n", r, formatCpuList(cpus).c_str());
    }
  }
}

int runLocal(const Options& o, std::chrono::milliseconds grace) {
  const int port = freeLoopbackPort();
  std::string rendezvous = "127.0.0.1:" + std::to_string(port);
  std::string secret = randomHex(32);
  Master master{"127.0.0.1", freeLoopbackPort()};
  for (int tries = 0; master.port == port && tries < 8; ++tries) master.port = freeLoopbackPort();
  std::vector<SpawnSpec> ranks;
  for (int r = 0; r < o.np; ++r) {
    RankSlot slot{0, r, o.np};
    ranks.push_back(rankSpec(o, r, o.np, slot, rendezvous, secret, master));
  }
  if (o.verbose)
    std::fprintf(stderr, "prism-run: %d ranks, rendezvous %s\n", o.np, rendezvous.c_str());
  bindRanks(o, ranks);
  return runRankGroup(std::move(ranks), grace, o.tagOutput);
}

/// What an unshaped veth pair reports as its speed.
constexpr uint64_t kUnshapedBitsPerSecond = 10'000'000'000;

/// CPUs this process may run on (the ranks inherit its affinity).
int usableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}

/// A file prism-run writes for its ranks (topology, cost profile), removed with the run.
class GeneratedFile {
 public:
  GeneratedFile(std::string path, const std::string& text) : path_(std::move(path)) {
    if (std::FILE* f = std::fopen(path_.c_str(), "w")) {
      std::fputs(text.c_str(), f);
      std::fclose(f);
    }
  }
  ~GeneratedFile() { std::remove(path_.c_str()); }
  GeneratedFile(const GeneratedFile&) = delete;
  GeneratedFile& operator=(const GeneratedFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int runEmulated(const Options& o, std::chrono::milliseconds grace) {
  FabricNames names(static_cast<long>(getpid()));
  FabricOptions fabric;
  fabric.hosts = o.hosts;
  fabric.bandwidth = o.bandwidth;
  fabric.delay = o.delay;
  fabric.innet = splitWords(o.innet);
  fabric.innetPort = o.innetPort;
  NetnsFabric net(names, fabric);
  if (int sig = waitForSignal(0); sig != 0 && sig != SIGCHLD) {
    std::fprintf(stderr, "prism-run: got signal %d during setup; cleaning up\n", sig);
    return 128 + sig;
  }
  Placement placement = o.placement == "block" ? Placement::Block : Placement::RoundRobin;
  std::vector<RankSlot> slots = placeRanks(o.hosts, o.ranksPerHost, placement);
  int nranks = static_cast<int>(slots.size());
  std::string rendezvous = names.hostAddress(slots[0].host) + ":" + std::to_string(o.port);
  std::string secret = randomHex(32);
  // The shaped link rate, as a topology file for the cost model (unless the user gave one).
  GeneratedFile topology(
      "/tmp/" + names.prefix + "-topology.json",
      emulatedTopologyJson(
          o.hosts, o.bandwidth.empty() ? kUnshapedBitsPerSecond : parseBitsPerSecond(o.bandwidth),
          o.delay.empty() ? 0 : parseDelayMicros(o.delay), net.innetEndpoint()));
  // tbf's burst and this machine's cores, as a cost profile (unless the user gave one):
  // without them the model would pace messages that pass at veth speed, and price steps as
  // if every rank had a core. netem (--delay) and unshaped links have no burst.
  const bool tokenBucket = !o.bandwidth.empty() && o.delay.empty();
  const uint64_t burst = tokenBucket ? tbfBurstBytes(parseBitsPerSecond(o.bandwidth)) : 0;
  GeneratedFile profile("/tmp/" + names.prefix + "-profile.json",
                        emulatedProfileJson(burst, usableCores()));
  // The port after Prism's rendezvous, on rank 0's emulated host.
  const Master master{names.hostAddress(slots[0].host), o.port + 1};
  std::vector<SpawnSpec> ranks;
  for (int r = 0; r < nranks; ++r) {
    SpawnSpec spec = rankSpec(o, r, nranks, slots[r], rendezvous, secret, master);
    if (std::getenv("PRISM_TOPO_FILE") == nullptr && std::getenv("NCCL_TOPO_FILE") == nullptr) {
      spec.env.push_back("PRISM_TOPO_FILE=" + topology.path());
    }
    if (std::getenv("PRISM_TUNING_FILE") == nullptr) {
      spec.env.push_back("PRISM_TUNING_FILE=" + profile.path());
    }
    spec.netns = names.hostNamespace(slots[r].host);
    spec.env.push_back("PRISM_SOCKET_IFNAME=" + names.hostLink(slots[r].host));
    if (!net.innetEndpoint().empty()) spec.env.push_back("PRISM_INNET_ADDR=" + net.innetEndpoint());
    ranks.push_back(std::move(spec));
  }
  if (o.verbose) {
    std::fprintf(stderr, "prism-run: %d hosts x %d ranks (%s) in namespaces %s-*, 10.%d.0.0/24\n",
                 o.hosts, o.ranksPerHost, o.placement.c_str(), names.prefix.c_str(), names.subnet);
  }
  bindRanks(o, ranks);
  return runRankGroup(std::move(ranks), grace, o.tagOutput);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Options o;
  auto dashes = std::find(args.begin(), args.end(), "--");
  if (dashes != args.end()) o.command.assign(dashes + 1, args.end());
  std::vector<std::string> own(args.begin(), dashes);
  // mpirun spells it -np; CLI11 would read that as -n with the value "p".
  std::replace(own.begin(), own.end(), std::string("-np"), std::string("--np"));
  std::reverse(own.begin(), own.end());  // CLI11 takes a reversed vector

  CLI::App app("prism-run: start the ranks of a Prism job", "prism-run");
  app.add_option("-n,--np", o.np, "number of ranks (local processes)")->check(CLI::Range(1, 4096));
  app.add_option("--hosts", o.hosts, "emulated hosts (one network namespace each)")
      ->check(CLI::Range(1, kMaxHosts));
  app.add_option("--ranks-per-host", o.ranksPerHost, "ranks on each emulated host")
      ->check(CLI::Range(1, 1024));
  app.add_option("--bandwidth", o.bandwidth, "link rate per direction, e.g. 1gbit, 100mbit")
      ->check([](const std::string& v) {
        return parseBitsPerSecond(v) > 0 ? "" : "not a rate like 1gbit: " + v;
      });
  app.add_option("--delay", o.delay, "one-way link delay, e.g. 50us (needs netem)")
      ->check([](const std::string& v) {
        return parseDelayMicros(v) >= 0 ? "" : "not a delay like 50us: " + v;
      });
  app.add_option("--placement", o.placement, "block or round-robin")
      ->check(CLI::IsMember({"block", "round-robin"}));
  app.add_option("--innet", o.innet,
                 "command run in the switch namespace (words split on spaces; {innet} is "
                 "replaced by its host:port)");
  app.add_option("--innet-port", o.innetPort, "port of the --innet service")
      ->check(CLI::Range(1, 65535));
  app.add_option("--port", o.port, "rendezvous port on rank 0's emulated host")
      ->check(CLI::Range(1, 65535));
  app.add_option("--grace", o.graceSeconds, "seconds the other ranks get after one fails")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--bind-to", o.bindTo,
                 "bind each rank to a core, to its NUMA node's cores, or not at all; default: "
                 "core when the ranks fit this machine's cores, else none")
      ->check(CLI::IsMember({"core", "numa", "none"}));
  app.add_option("--map-by", o.mapBy,
                 "lay ranks over cores in order, or round robin over NUMA "
                 "nodes; default core")
      ->check(CLI::IsMember({"core", "numa"}));
  app.add_option("-x", o.exports,
                 "export VAR=value, or prism-run's own VAR, to every rank (repeatable)");
  app.add_flag("--tag-output", o.tagOutput,
               "prefix every line of output with the rank, as [1,rank]<stdout>: (mpirun's)");
  app.add_flag("-v,--verbose", o.verbose, "say what is set up");
  app.add_flag("--cleanup-stale", o.cleanupStale,
               "remove namespaces left by a prism-run that was killed, then exit");
  try {
    app.parse(own);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.cleanupStale) {
    std::printf("prism-run: removed %d stale namespace(s)\n", removeStaleFabrics());
    return 0;
  }
  if (o.command.empty()) {
    std::fprintf(stderr,
                 "prism-run: no command; usage: prism-run -np N [options] -- command "
                 "args...\n");
    return 2;
  }
  bool emulate = o.hosts > 0;
  if (emulate && o.np > 0 && o.np != o.hosts * o.ranksPerHost) {
    std::fprintf(stderr, "prism-run: -np %d disagrees with --hosts %d x --ranks-per-host %d\n",
                 o.np, o.hosts, o.ranksPerHost);
    return 2;
  }
  if (!emulate && (!o.bandwidth.empty() || !o.delay.empty() || !o.innet.empty())) {
    std::fprintf(stderr, "prism-run: --bandwidth, --delay and --innet need --hosts\n");
    return 2;
  }
  if (!emulate && o.np == 0) o.np = 1;
  blockHandledSignals();
  auto grace = std::chrono::milliseconds(static_cast<long long>(o.graceSeconds * 1000));
  try {
    return emulate ? runEmulated(o, grace) : runLocal(o, grace);
  } catch (const SetupError& e) {
    std::fprintf(stderr, "prism-run: setup failed: %s\n", e.what());
    return 1;
  }
}
