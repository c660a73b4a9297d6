// A communicator: this rank's view of a group of ranks, its transport, and the state the
// NCCL API hangs on it (custom reduction ops, registrations, errors).
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/fabric.h"
#include "algorithms/schedule.h"
#include "nccl.h"
#include "src/comm/planner.h"
#include "src/comm/router.h"
#include "src/core/executor.h"
#include "src/core/operation.h"
#include "src/core/path_context.h"
#include "src/device/device.h"

namespace prism {
namespace topo {
class SystemTopology;
}

class CommTuner;
class DirectHost;
class PeerWatch;
class Error;
struct SelectionRequest;
class InNetwork;
/// Deletes an InNetwork where its type is complete (comm_innet.cc).
struct InNetworkDeleter {
  void operator()(InNetwork* p) const;
};
class SetupChannel;
class Transport;

/// The settings a communicator was created with (ncclConfig_t, resolved).
struct CommOptions {
  bool blocking = true;
  std::string commName;
  /// The CUDA device current when the communicator was created (-1: none).
  int cudaDevice = -1;
};

/// A PreMulSum op created by ncclRedOpCreatePreMulSum.
struct CustomOp {
  DataType type = DataType::Float32;
  Reduction reduction;
};

class Communicator final : public PathContext {
 public:
  /// Collective over `setup`: finds which ranks share a host (hostname, boot id, network
  /// namespace) and builds the transport chooseTransport picks (transport_choice.h).
  /// `name` must be unique among live communicators on the host.
  Communicator(SetupChannel& setup, std::string name, CommOptions options);
  ~Communicator() override;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& name() const override { return name_; }
  const CommOptions& options() const { return options_; }
  int cudaDevice() const override { return options_.cudaDevice; }
  /// The host index of every rank (dense, in order of first appearance): ranks with equal
  /// indices share memory; different indices are different hosts or network namespaces.
  const std::vector<int>& hostOf() const override { return hostOf_; }
  /// Where the ranks are: hosts, NUMA nodes, devices, NICs and the routes between them.
  const topo::SystemTopology& topology() const { return *topology_; }
  /// The cost model's view of the same (algorithms/fabric.h).
  const FabricModel& fabric() const { return fabric_; }
  /// Polls before a waiting rank yields (PRISM_SPIN), read at creation.
  int64_t spinCount() const override { return spinCount_; }
  /// More ranks than the CPUs this process may run on: ranks take turns on cores.
  bool oversubscribed() const override { return oversubscribed_; }
  /// Seconds without progress before a wait fails (PRISM_TIMEOUT_S), read at creation.
  int64_t timeoutSeconds() const override { return timeoutSeconds_; }

  /// The plan path's halves: the planner builds plans, the executor advances them (the
  /// router drives both, router.h).
  Planner& planner() { return *planner_; }
  Executor& executor() { return executor_; }
  /// True while shrink() builds a child on this failed communicator (Planner::build).
  bool recovering() const { return recovering_; }
  /// Ends the communicator after `e` ended operation `seq`: records the code for
  /// ncclCommGetAsyncError and tells every peer (announceAbandon), so none waits for this
  /// rank until its timeout.
  void endWith(const Error& e, uint64_t seq);
  /// Throws, ending the communicator, if a peer announced that it gave up on the plan's
  /// current operation while this rank was not reading from it (mismatch.h), or if the
  /// process of a peer the plan waits on has died (ncclRemoteError naming it). For waits,
  /// not for every poll.
  void checkPeers(const Plan& plan);
  /// Takes the number of the next collective on the whole communicator, for paths that
  /// run one without a plan (the direct host path).
  uint64_t nextCollectiveSeq() override { return planner_->nextCollectiveSeq(); }
  Transport& transport() override { return *transport_; }
  /// Where the plan waits (operation, step, peer), and which peer processes on this host
  /// are stopped: the reason of a timeout.
  std::string describeWait(const Plan& plan) const;

  /// The scratch memory schedules of this communicator use (Schedule::scratchBlocks): its
  /// size and address, which change only when a call needs more than any call before.
  size_t scratchBytes() const { return planner_->scratchBytes(); }
  const std::byte* scratchData() const { return planner_->scratchData(); }

  /// The selector's predicted time of `op` in microseconds (ncclGroupSimulateEnd).
  double predictMicros(const Operation& op) const { return planner_->predictMicros(op); }

  /// Runs `ops` to completion on this communicator alone.
  void run(std::span<const Operation> ops) override;
  /// The engine for operations on device buffers.
  device::Engine& deviceEngine() { return *device_; }
  /// Whether the direct host path takes `op` (large, host buffers, whole communicator;
  /// DirectHost::eligible). The router asks; it never depends on the rest of a group.
  bool directEligible(const Operation& op) const;
  /// Runs `op`, which directEligible accepted, on the direct host path.
  void runDirect(const Operation& op);
  /// Whether the in-network aggregation service takes `op` (InNetwork::eligible: an
  /// AllReduce the cost model or PRISM_ALGO sends there). Makes the path object at the
  /// first AllReduce that asks.
  bool inNetworkEligible(const Operation& op);
  /// Runs `op`, which inNetworkEligible accepted, through the service.
  void runInNetwork(const Operation& op);
  /// Where a tuner plugin sends `op` (comm_tuner.cc), asked for every whole-communicator
  /// host collective when one is loaded: the plan path with the algorithm it chose (set in
  /// op.algorithm), or the in-network path. nullopt leaves the router to its own order.
  std::optional<Path> askTuner(Operation& op);
  /// How many operations the router ran on each path (router.h), for tests and logs.
  /// Counted by the path entry points; read by the driving thread or after a call.
  uint64_t routedTo(Path path) const { return routed_[static_cast<size_t>(path)]; }
  void countRoute(Path path, uint64_t ops = 1) { routed_[static_cast<size_t>(path)] += ops; }
  /// Host AllGather of `bytes` per rank over this communicator's transport (internal
  /// exchanges of the device and direct paths); `serves` as Operation::serves.
  void allGatherBytes(const void* mine, void* all, size_t bytes,
                      const OpFingerprint* serves = nullptr) override;

  /// ncclCommSplit: collective over all ranks. Returns null for NCCL_SPLIT_NOCOLOR.
  std::unique_ptr<Communicator> split(int color, int key, const CommOptions& options);
  /// ncclCommShrink: collective over the ranks not in `excluded`. Works on a communicator
  /// that failed (a peer died): its set-up exchanges skip what the failed operation left
  /// in the FIFOs between the remaining ranks. Between hosts that needs the TCP links to
  /// the remaining ranks intact, which a failed TCP transport does not keep.
  std::unique_ptr<Communicator> shrink(std::span<const int> excluded, const CommOptions& options);

  /// The reduction for a user op and type; throws ncclInvalidArgument for unknown ops or a
  /// PreMulSum op used with another data type.
  Reduction reductionFor(int op, DataType type) const;
  int createPreMulSum(DataType type, const void* scalar, bool hostImmediate);
  void destroyOp(int op);

  /// ncclCommRegister: returns the handle; shared mappings become mappable by peers.
  void* registerBuffer(void* buff, size_t size);
  void deregisterBuffer(void* handle);

  ncclResult_t asyncError() const;
  void setAsyncError(ncclResult_t code) { asyncError_.store(code); }
  /// Marks the communicator aborted/revoked: waiters stop and later calls fail.
  void abort();
  /// Threads currently driving a plan of this communicator (see runPlans). Abort waits for
  /// this to drop to zero before the communicator may be destroyed.
  std::atomic<int>& drivers() { return drivers_; }
  bool aborted() const override { return aborted_.load(); }
  /// Throws if the communicator can no longer run operations.
  void checkUsable() const;

 private:
  /// Throws ncclRemoteError: rank `q`, which this rank waits on in `what`, has died.
  [[noreturn]] void failDeadPeer(int q, const OpFingerprint& what) const;
  std::unique_ptr<Communicator> makeChild(std::vector<int> members, const CommOptions& options);
  /// A registered buffer: its shared_host_memory::adopt() id, 0 if it is private, and the
  /// transport's registration (Transport::registerMemory), null if it has none.
  struct Registration {
    uint64_t shared;
    void* transport;
  };
  /// Undoes registerBuffer's adoption and registration and frees the handle.
  void forgetRegistration(Registration* r);
  /// The in-network path, made at the first AllReduce that needs it (comm_innet.cc).
  InNetwork& inNetworkPath();
  /// Initializes the tuner plugin for this communicator (comm_tuner.cc); tuner_ stays
  /// null without one.
  void startTuner();

  int rank_ = 0;
  int size_ = 1;
  std::string name_;
  CommOptions options_;
  std::vector<int> hostOf_;
  std::unique_ptr<topo::SystemTopology> topology_;
  /// The cost model's view of the ranks' placement (sharedMemoryFabric on one host).
  FabricModel fabric_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<PeerWatch> watch_;
  std::unique_ptr<DirectHost> direct_;
  std::unique_ptr<InNetwork, InNetworkDeleter> innet_;  ///< created at the first AllReduce
  std::unique_ptr<device::Engine> device_;
  Executor executor_;
  /// The plan path: selection, binding, scratch, numbering (planner.h).
  std::unique_ptr<Planner> planner_;
  /// The tuner plugin's context for this communicator; null when none is loaded.
  std::unique_ptr<CommTuner> tuner_;
  int64_t spinCount_ = 0;
  bool oversubscribed_ = false;
  int64_t timeoutSeconds_ = 0;
  std::vector<std::optional<CustomOp>> customOps_;
  std::set<void*> registrations_;
  uint64_t children_ = 0;
  std::atomic<bool> aborted_{false};
  std::atomic<int> drivers_{0};
  std::atomic<ncclResult_t> asyncError_{ncclSuccess};
  std::vector<int> waited_;           ///< checkPeers' scratch
  std::array<uint64_t, 4> routed_{};  ///< routedTo
  /// Set while shrink() builds a child: the set-up exchanges run although this
  /// communicator failed, over FIFOs that may still hold the failed operation's messages.
  bool recovering_ = false;
};

}  // namespace prism
