// The cost of an AllReduce through an in-network aggregation point, as a pure function,
// for the selector's cost model. Each host sends its S bytes up once and receives the S
// result bytes once, on a full-duplex link, so the two directions overlap; chunks pipeline
// through the aggregation point, so only the first chunk pays the full path latency.
#pragma once

#include <algorithm>
#include <cstddef>

namespace prism {

/// The chunk size the live path (src/core/in_network.cc) uses for small jobs.
inline constexpr size_t kInNetworkChunkBytes = 256 * 1024;

/// Predicted microseconds for an AllReduce of `bytes` per rank over `nranks` hosts, each on
/// a link of `linkBytesPerMicro` (each direction) with `latencyMicros` one way:
///   up and down overlap:    S / B
///   pipeline fill:          one chunk up and one chunk down, 2 * min(S, C) / B
///   per-chunk latency:      a round trip to the aggregation point, 2 * latency
/// The aggregation point's own link to the fabric is assumed not to be the bottleneck
/// (a switch port per host). nranks only matters through that assumption and n = 1.
inline double predictInNetworkMicros(size_t bytes, int nranks, double linkBytesPerMicro,
                                     double latencyMicros) {
  if (bytes == 0 || nranks < 1 || linkBytesPerMicro <= 0) return 0.0;
  const double s = static_cast<double>(bytes);
  const double chunk = std::min(s, static_cast<double>(kInNetworkChunkBytes));
  return s / linkBytesPerMicro + chunk / linkBytesPerMicro + 2.0 * latencyMicros;
}

}  // namespace prism
