/// The collectives, named once for the whole project: the engine's schedules, the native
/// API's training helpers and prism-bench all use this enum, and the one bus-bandwidth
/// formula that nccl-tests reports with.
#pragma once

#include <cstdint>

namespace prism {

/// SendRecv stands for point-to-point traffic (ncclSend/ncclRecv pairs); it has no
/// schedule of its own.
enum class Collective : uint8_t {
  AllReduce,
  Broadcast,
  Reduce,
  AllGather,
  ReduceScatter,
  AllToAll,
  Gather,
  Scatter,
  SendRecv,
};

/// "AllReduce", "Broadcast", ..., "SendRecv".
const char* collectiveName(Collective c);

/// busbw / algbw as nccl-tests reports it, so figures compare with published ones:
/// 2(n-1)/n for allreduce; (n-1)/n for allgather, reduce-scatter, alltoall, gather and
/// scatter; 1 for broadcast, reduce and send/recv. For n <= 1 the first two groups give 0
/// (nothing crosses a bus) and the last gives 1.
double busBandwidthFactor(Collective c, int nranks);

}  // namespace prism
