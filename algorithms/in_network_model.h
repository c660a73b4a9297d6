// The cost of an AllReduce through an in-network aggregation point, as a pure function,
// for the selector's cost model. Each host sends its S bytes up once and receives the S
// result bytes once, on a full-duplex link, so the two directions overlap; chunks pipeline
// through the aggregation point, so only the first chunk pays the full path latency.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "algorithms/fabric.h"

namespace prism {

/// The chunk size the live path (src/core/in_network.cc) uses for small jobs.
inline constexpr size_t kInNetworkChunkBytes = 256 * 1024;

/// What the estimate needs to know about a host's link and the ranks' CPUs.
struct InNetworkCosts {
  double linkBytesPerMicro = 0;  ///< each direction, this rank's share of its host's link
  double latencyMicros = 0;      ///< one way, rank to aggregation point
  double burstBytes = 0;         ///< bytes the link passes unpaced (a token bucket); 0: none
  double stepMicros = 0;         ///< software cost of one chunk sent or received
  double sharedCores = 0;        ///< cores all ranks share (0: a core each)
  double wakeMicros = 0;         ///< per step, when ranks outnumber sharedCores
};

/// Predicted microseconds for an AllReduce of `bytes` per rank over `nranks` ranks:
///   bandwidth:  S / B, up and down overlapped; calls back to back cannot beat it;
///   latency:    a round trip, a send and a receive step, and the pipeline fill (the first
///               chunk goes up before results come down) unless the burst covers the message;
///   paced:      the bytes beyond the link's burst, S' / B, after the latency chain;
///   cpu:        with ranks outnumbering the shared cores, every rank's chunk steps (plus a
///               wake-up each) queue for the cores; the latency chain is at least that.
/// Result: max(latency + paced, bandwidth), like the simulator's (algorithms/simulate.h).
/// The aggregation point's own link is assumed not to be the bottleneck (a switch port per
/// host).
inline double predictInNetworkMicros(size_t bytes, int nranks, const InNetworkCosts& c) {
  if (bytes == 0 || nranks < 1 || c.linkBytesPerMicro <= 0) return 0.0;
  const double s = static_cast<double>(bytes);
  const double b = c.linkBytesPerMicro;
  const double chunk = std::min(s, static_cast<double>(kInNetworkChunkBytes));
  const double fill = s > c.burstBytes ? chunk / b : 0.0;
  double latency = fill + 2.0 * c.latencyMicros + 2.0 * c.stepMicros;
  if (c.sharedCores > 0 && nranks > c.sharedCores) {
    const double stepsPerRank = 2.0 * std::ceil(s / static_cast<double>(kInNetworkChunkBytes));
    const double cpu = nranks * stepsPerRank * (c.stepMicros + c.wakeMicros) / c.sharedCores;
    latency = std::max(latency, cpu);
  }
  const double paced = std::max(s - c.burstBytes, 0.0) / b;
  return std::max(latency + paced, s / b);
}

/// The costs for ranks on `fabric` with hosts `hostOf`: the slowest network link, shared by
/// the most ranks any host has (all of a host's ranks stream through its link), with the
/// profile's efficiency, burst, step and core terms. linkBytesPerMicro stays 0 when the
/// fabric has no network link (one host: nothing to save).
InNetworkCosts inNetworkCostsFor(const FabricModel& fabric, const std::vector<int>& hostOf);

}  // namespace prism
