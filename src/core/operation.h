// One call recorded by the API, waiting in a group to become part of a plan.
#pragma once

#include <cstddef>
#include <vector>

#include "algorithms/schedule.h"
#include "base/dtype.h"
#include "src/core/reduction.h"

namespace prism {

struct AlgorithmInfo;
struct OpFingerprint;

enum class OperationKind : uint8_t { Collective, Send, Recv };

/// Whether a rank reads its send buffer / writes its receive buffer in collective `c`:
/// NCCL uses the root-only buffers (Broadcast's and Scatter's input, Reduce's and
/// Gather's output) on the root alone, and ignores them elsewhere.
inline bool usesSendBuffer(Collective c, bool isRoot) {
  return isRoot || (c != Collective::Broadcast && c != Collective::Scatter);
}
inline bool usesRecvBuffer(Collective c, bool isRoot) {
  return isRoot || (c != Collective::Reduce && c != Collective::Gather);
}

struct Operation {
  OperationKind kind = OperationKind::Collective;
  Collective collective = Collective::AllReduce;
  const void* sendbuff = nullptr;
  void* recvbuff = nullptr;
  /// The count as the NCCL call takes it: AllGather's sendcount, ReduceScatter's
  /// recvcount, AlltoAll/Gather/Scatter's per-rank count, the element count otherwise.
  size_t count = 0;
  DataType type = DataType::Uint8;
  Reduction reduction;
  int root = 0;  ///< rooted collectives
  int peer = 0;  ///< Send / Recv
  /// Internal operations (communicator set-up) may run over a subset of the ranks:
  /// schedule rank i is communicator rank members[i]. Empty means all ranks.
  const std::vector<int>* members = nullptr;
  /// An internal exchange that serves a user's operation (the direct host path's buffer
  /// exchange): its messages carry that operation's fingerprint and number instead of
  /// their own, so a peer that runs the user's operation on another path sees the
  /// mismatch in the user's terms. Null for everything else.
  const OpFingerprint* serves = nullptr;
  /// The buffers are CUDA device memory; the operation is enqueued on `stream`.
  bool onDevice = false;
  void* stream = nullptr;  ///< cudaStream_t of the call
  /// The plan algorithm the router chose for this call (a tuner plugin's answer,
  /// src/comm/tuner.h); null: the planner selects.
  const AlgorithmInfo* algorithm = nullptr;
};

}  // namespace prism
