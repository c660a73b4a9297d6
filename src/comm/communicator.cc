#include "src/comm/communicator.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "algorithms/algo_override.h"
#include "algorithms/cost_profile.h"
#include "algorithms/registry.h"
#include "algorithms/topology_fabric.h"
#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"
#include "src/comm/router.h"
#include "src/comm/transport_choice.h"
#include "src/comm/tuner.h"
#include "src/core/direct_host.h"
#include "src/core/mismatch.h"
#include "src/core/peer_watch.h"
#include "topology/cpu_binding.h"
#include "topology/system.h"
#include "topology/system_gather.h"
#include "transports/transport.h"

namespace prism {

namespace {

/// How long a rank that found a waited-on peer dead still looks for a notice from a peer
/// that gave up before exiting (checkPeers).
constexpr auto kNoticeGrace = std::chrono::milliseconds(50);

/// Polls before yielding when ranks outnumber cores: none. A polling rank holds the core
/// its peer needs; yielding at once measured fastest (perf/RESULTS.md, oversubscribed
/// small calls).
constexpr int64_t kOversubscribedSpin = 0;

/// Logs every setting once per process at INFO (subsystem ENV), as DESIGN.md promises.
void logSettingsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    config::warnUnhonoredNcclVariables();
    for (int i = 0; i < static_cast<int>(config::Setting::Count_); ++i) {
      auto setting = static_cast<config::Setting>(i);
      log::info(log::kEnv, "setting %s=%s (%s)", config::name(setting),
                config::getString(setting).c_str(), config::source(setting).c_str());
    }
  });
}

/// Spin passes before sleeping for a rank with cores of its own (bound, no more ranks than
/// cores): sleeping gives the core to whatever else is runnable and costs a wake-up, and
/// nobody waits for this core.
constexpr int64_t kOwnCoreSpin = 200000;

/// CPUs this thread may run on.
int usableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
}

/// CPUs the ranks on this machine share: online and allowed to the job, whatever this rank
/// is bound to (a rank bound to one of two cores is not oversubscribed for that).
int machineCpus() {
  const std::vector<int> cpus = topo::allowedCpus();
  return std::max(1, static_cast<int>(cpus.size()));
}

/// PRISM_ALGO, or NCCL_ALGO in NCCL's names ("Tree" is the double binary tree), after
/// checking both overrides' grammar: a malformed one is ncclInvalidUsage, as in NCCL.
std::string algorithmOverride() {
  for (auto [setting, known] : {std::pair<config::Setting, bool (*)(std::string_view)>{
                                    config::Setting::Algo, &isAlgorithmName},
                                {config::Setting::Proto, &isNcclProtocol}}) {
    const std::string value = config::getString(setting);
    const std::vector<std::string> problems = overrideProblems(value, known);
    if (!problems.empty()) {
      throw Error(ncclInvalidUsage,
                  config::source(setting) + "=\"" + value + "\": " + problems.front());
    }
  }
  const std::string algo = config::getString(config::Setting::Algo);
  return config::source(config::Setting::Algo) == "NCCL_ALGO" ? ncclAlgorithmNames(algo) : algo;
}

/// Gives the cost model what the transport between hosts reports of its network (a network
/// plugin's port speed and latency), agreed on by every rank (slowest speed, longest
/// latency) so that every rank still selects alike. Collective when the fabric has network
/// links, which every rank knows alike.
void useTransportFigures(SetupChannel& setup, const Transport& transport, FabricModel& fabric) {
  const bool network = std::any_of(fabric.links.begin(), fabric.links.end(),
                                   [](const FabricLink& link) { return link.network; });
  if (!network) return;
  const NetworkFigures mine = transport.networkFigures();
  std::vector<NetworkFigures> all(static_cast<size_t>(setup.size()));
  setup.allGather(&mine, all.data(), sizeof(NetworkFigures));
  NetworkFigures agreed = all[0];
  for (const NetworkFigures& f : all) {
    agreed.bytesPerMicro = std::min(agreed.bytesPerMicro, f.bytesPerMicro);
    agreed.latencyMicros = std::max(agreed.latencyMicros, f.latencyMicros);
  }
  if (agreed.bytesPerMicro <= 0) return;
  useNetworkFigures(fabric, agreed.bytesPerMicro, agreed.latencyMicros);
  log::info(log::kTuning | log::kNet,
            "cost model: network links at %.0f MB/s and %.1f us, as the transport reports",
            agreed.bytesPerMicro, agreed.latencyMicros);
}

}  // namespace

Communicator::Communicator(SetupChannel& setup, std::string name, CommOptions options)
    : rank_(setup.rank()),
      size_(setup.size()),
      name_(std::move(name)),
      options_(std::move(options)),
      transport_(nullptr),
      executor_(nullptr) {
  logSettingsOnce();
  const std::string sync = config::getString(config::Setting::DeviceSync);
  check(sync == "auto" || sync == "events", ncclInvalidArgument,
        "PRISM_DEVICE_SYNC must be auto or events, not '" + sync + "'");
  topology_ = topo::gatherSystemTopology(setup, options_.cudaDevice);
  hostOf_ = topology_->hostOf();
  fabric_ = fabricFromTopology(*topology_, activeCostProfile());
  spinCount_ = config::getInt(config::Setting::SpinCount);
  // With more ranks than cores a spinning rank steals the core from the peer it waits
  // for, so oversubscribed ranks hand the core over almost at once. A rank bound to cores
  // of its own spins long unless PRISM_SPIN says otherwise.
  const int machine = machineCpus();
  oversubscribed_ = size_ > machine;
  if (oversubscribed_) {
    spinCount_ = std::min<int64_t>(spinCount_, kOversubscribedSpin);
  } else if (usableCpus() < machine && config::source(config::Setting::SpinCount) == "default") {
    spinCount_ = std::max<int64_t>(spinCount_, kOwnCoreSpin);
  }
  timeoutSeconds_ = config::getInt(config::Setting::Timeout);
  transport_ = chooseTransport(setup, name_, hostOf_, std::hash<std::string>{}(name_));
  useTransportFigures(setup, *transport_, fabric_);
  executor_ = Executor(transport_.get());
  log::info(log::kInit, "comm %s rank %d/%d: transport %s, %d slots of %zu bytes per peer",
            name_.c_str(), rank_, size_, transport_->name(), transport_->slotCount(),
            transport_->slotBytes());
  planner_ = std::make_unique<Planner>(rank_, size_, name_, fabric_, hostOf_, *transport_,
                                       algorithmOverride());
  startTuner();
  watch_ = std::make_unique<PeerWatch>(setup, hostOf_);
  direct_ = std::make_unique<DirectHost>(*this, setup);
  device_ = device::Engine::create(*this, setup);
}

bool Communicator::directEligible(const Operation& op) const { return direct_->eligible(op); }

void Communicator::runDirect(const Operation& op) {
  checkUsable();
  try {
    direct_->run(op);
  } catch (const Error& e) {
    endWith(e, planner_->lastCollectiveSeq());
    throw;
  }
}

void Communicator::allGatherBytes(const void* mine, void* all, size_t bytes,
                                  const OpFingerprint* serves) {
  Operation op;
  op.serves = serves;
  op.collective = Collective::AllGather;
  op.sendbuff = mine;
  op.recvbuff = all;
  op.count = bytes;
  op.type = DataType::Uint8;
  run({&op, 1});
}

ncclResult_t Communicator::asyncError() const {
  ncclResult_t host = asyncError_.load();
  if (host != ncclSuccess || !device_) return host;
  return device_->asyncError();
}

void Communicator::abort() {
  aborted_.store(true);
  if (device_) device_->abort();
}

Communicator::~Communicator() {
  for (void* handle : registrations_) forgetRegistration(static_cast<Registration*>(handle));
}

void Communicator::checkPeers(const Plan& plan) {
  const Program* current = Executor::currentProgram(plan);
  if (current == nullptr) return;
  try {
    if (!current->skipStale) prism::checkAbandoned(*transport_, current->fingerprint);
    waited_.clear();
    Executor::waitedPeers(plan, waited_);
    for (int q : waited_) {
      if (!watch_->died(q)) continue;
      // A peer that exited after giving up on this operation told every peer why first;
      // over TCP that notice may still be on its way when the exit is seen. The first
      // failure's reason, not the exit, is what this rank must report.
      if (!current->skipStale) {
        const auto until = std::chrono::steady_clock::now() + kNoticeGrace;
        while (std::chrono::steady_clock::now() < until) {
          transport_->progress();
          prism::checkAbandoned(*transport_, current->fingerprint);
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
      failDeadPeer(q, current->fingerprint);
    }
  } catch (const Error& e) {
    endWith(e, current->fingerprint.seq);
    throw;
  }
}

std::string Communicator::describeWait(const Plan& plan) const {
  return executor_.describeWait(plan) + watch_->stoppedNote();
}

void Communicator::failDeadPeer(int q, const OpFingerprint& what) const {
  throw Error(ncclRemoteError, "rank " + std::to_string(rank_) + ": " + describe(what) +
                                   " waits on rank " + std::to_string(q) + " (pid " +
                                   std::to_string(watch_->pid(q)) + "), which died");
}

void Communicator::endWith(const Error& e, uint64_t seq) {
  setAsyncError(e.code());
  // Passed on even when this rank only heard of it from a peer: the rank that failed
  // first may not have reached a peer whose FIFO toward it was full.
  announceAbandon(*transport_, seq, e.code(), e.what());
}

void Communicator::run(std::span<const Operation> ops) { runPlanned(*this, ops); }

void Communicator::checkUsable() const {
  if (aborted()) throw Error(ncclInvalidUsage, "communicator " + name_ + " was aborted or revoked");
  if (recovering_) return;
  ncclResult_t failed = asyncError();
  if (!(failed == ncclSuccess || failed == ncclInProgress))
    throw Error(failed,
                "communicator " + name_ + " failed earlier; destroy it and create a new one");
}

}  // namespace prism
