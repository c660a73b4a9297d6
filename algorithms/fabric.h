// What the cost model knows about the fabric between the ranks of one communicator: the
// links a message from rank a to rank b crosses, and each link's bandwidth and latency.
// Plain data. It is built from the topology (topology/system.h) by the communicator, or by
// sharedMemoryFabric() when all ranks share one host; algorithms never see it.
#pragma once

#include <string>
#include <vector>

namespace prism {

/// The cost model's constants. The defaults come from calibration runs on the reference
/// VMs (perf/RESULTS.md); `prism-bench --calibrate` measures them again and writes a
/// profile that PRISM_TUNING_FILE loads.
struct CostProfile {
  /// Software cost of one step: synchronisation, wake-up, slot hand-over.
  double stepMicros = 1.5;
  /// Shared-memory FIFO speed per rank and direction, bytes per microsecond.
  double shmBytesPerMicro = 10e3;
  /// Host reduction speed when memory-bound (two reads and a write per element, with other
  /// ranks competing for the memory system), bytes of reduced data per microsecond. Fitted
  /// with PRISM_ALGO ring against recursive_doubling on 2 ranks, where it sets the
  /// crossover between them.
  double reduceBytesPerMicro = 5e3;
  /// Fraction of a network link's rate that TCP payload reaches (headers, acks).
  double networkEfficiency = 0.94;
  /// Extra software cost of a step whose message crosses the network (socket calls).
  double networkStepMicros = 20;
  /// Bytes a network link passes at wire speed before its rate applies: the depth of a
  /// token bucket that shapes it (tc tbf's burst; prism-run's emulated links have one).
  /// 0: none, every byte is paced at the link's rate.
  double networkBurstBytes = 0;
  /// CPU cores that all ranks of the communicator share (an emulated fabric: every
  /// "host" is a namespace on one machine); 0: each rank has a core of its own. With more
  /// ranks than that, the steps' software costs (plus wakeMicros each) queue for the cores:
  /// the simulator's CPU bound.
  double sharedCores = 0;
  /// CPU cost of handing a core to a waiting rank, paid per step when ranks outnumber
  /// sharedCores (context switch, cache refill). Fitted to 8 ranks on 2 cores
  /// (perf/RESULTS.md, topology-aware selection), with the step costs above included.
  double wakeMicros = 15;
};

struct FabricLink {
  std::string name;  ///< for the TUNING log: "rank 3 out", "host 1 uplink"
  double bytesPerMicro = 1;
  double latencyMicros = 0;
  bool network = false;  ///< crosses a NIC (networkStepMicros applies)
  /// Bytes the link passes unpaced when it has been idle (a token bucket's depth); 0: none.
  double burstBytes = 0;
};

struct FabricModel {
  int nranks = 1;
  CostProfile profile;
  std::vector<FabricLink> links;
  /// paths[a * nranks + b]: the links (indices into `links`) a message from a to b uses.
  std::vector<std::vector<int>> paths;
  /// Rank r's own memory port: local copies and reductions count against it.
  std::vector<int> memoryPort;

  const std::vector<int>& path(int from, int to) const {
    return paths[static_cast<size_t>(from) * static_cast<size_t>(nranks) + static_cast<size_t>(to)];
  }
};

/// All ranks on one host, talking through shared-memory FIFOs: every rank has an outgoing
/// and an incoming port at shmBytesPerMicro, and a message uses the sender's out port and
/// the receiver's in port.
FabricModel sharedMemoryFabric(int nranks, const CostProfile& profile);

/// Ranks on hosts (`hostOf[r]`, dense from 0) joined by one switch: same-host pairs as in
/// sharedMemoryFabric; a message between hosts also crosses the sender host's uplink and the
/// receiver host's downlink (`linkBytesPerMicro` each, `linkLatencyMicros` each way, with
/// the profile's networkBurstBytes), which all ranks of a host share.
FabricModel switchedFabric(const std::vector<int>& hostOf, double linkBytesPerMicro,
                           double linkLatencyMicros, const CostProfile& profile);

/// What the network's own stack reports (an NCCL network plugin's port speed and latency)
/// replaces what discovery guessed: every network link gets `bytesPerMicro`, and half of
/// `latencyMicros`, since a message between hosts crosses two (the sender's uplink and the
/// receiver's downlink). Zero figures change nothing.
void useNetworkFigures(FabricModel& fabric, double bytesPerMicro, double latencyMicros);

}  // namespace prism
