// The direct collective kernel: every rank of a communicator reads and writes its peers'
// buffers in place (same GPU, or peers reachable over NVLink/PCIe), so one pass moves each
// byte once. Plain C++ (no CUDA syntax), so host code builds the arguments without nvcc.
//
// Work split: a reducing collective gives each rank one slice of the elements, which it
// reduces across every rank's input and writes to every output that needs it; a data
// movement collective has each rank fill its own output (Gather: its own block of the
// root's). Results equal the host reducers' bit for bit, reducing in rank order.
//
// Synchronization has two modes, chosen by the caller:
//  - flags (`sync[0]` set): all ranks are threads of one process. Each kernel publishes its
//    buffers and a sequence number in its RankSync, waits for its peers' in device memory,
//    and holds its last block until every peer is done. Nothing blocks the host, and the
//    kernel can be captured in a CUDA graph (the sequence lives in device memory).
//  - stream order (`sync[0]` null): the caller orders the kernel after its peers' inputs are
//    ready and before their next use (CUDA IPC events), and passes mapped pointers in
//    `in`/`out`. No kernel ever spins, so ranks in separate processes time-sharing one GPU
//    cannot stall each other for a whole time slice.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "base/collective.h"
#include "base/dtype.h"

namespace prism::kernels {

/// Ranks one direct kernel can address (kernel parameters hold their pointers).
inline constexpr int kMaxDirectRanks = 16;

/// One rank's synchronization words in device memory (flag mode). Written by that rank's
/// kernel, read by its peers'.
struct RankSync {
  unsigned long long completed;  ///< sequence number of the last finished operation
  unsigned long long arrived;    ///< sequence number whose buffers `in`/`out` publish
  unsigned long long done;       ///< sequence number every block of this rank finished
  unsigned int blocksDone;       ///< blocks of the running kernel that finished
  unsigned int pad;
  const void* in;
  void* out;
  const void* scalarPtr;  ///< PreMulSum scalar in device memory, or null: scalarBits
  unsigned long long scalarBits;
};

/// Everything one rank's kernel needs. Passed by value.
struct DirectArgs {
  Collective collective = Collective::AllReduce;
  DataType type = DataType::Float32;
  ReduceOp op = ReduceOp::Sum;
  int nranks = 1;
  int rank = 0;
  int root = 0;
  size_t count = 0;  ///< the NCCL call's count
  /// Every rank's buffers as this rank addresses them (stream-order mode); in flag mode
  /// only this rank's entries are read, the rest come from the peers' RankSync.
  const void* in[kMaxDirectRanks] = {};
  void* out[kMaxDirectRanks] = {};
  /// Every rank's RankSync (flag mode), or all null (stream-order mode).
  RankSync* sync[kMaxDirectRanks] = {};
  /// Host-mapped: a nonzero value makes waiting kernels give up (ncclCommAbort).
  const volatile int* abortFlag = nullptr;
  /// Host-mapped: set to 1 by a kernel that gave up (abort or timeout).
  volatile int* failed = nullptr;
  unsigned long long timeoutNs = 0;
  /// Some peer is on another GPU: flags need system-scope fences, not device-scope ones.
  bool systemScope = false;
  /// PreMulSum: each rank's input is first multiplied by that rank's scalar, read from
  /// `scalarPtr[r]` (device memory) when set, else from `scalarBits[r]` (the element's
  /// bytes). Flag mode reads only this rank's entries, like `in` and `out`.
  bool preMultiply = false;
  const void* scalarPtr[kMaxDirectRanks] = {};
  unsigned long long scalarBits[kMaxDirectRanks] = {};
  /// ncclAvg: divide the reduced value by this (0: no division).
  int divisor = 0;
};

/// Blocks one direct kernel may use so that `nranks` of them are resident together on
/// `device` (flag mode waits inside the kernel, so all ranks' kernels must fit at once).
int directBlocks(int device, int nranks);

/// Enqueues the direct kernel of `args` on `stream`. Throws prism::Error on launch failure.
void launchDirect(const DirectArgs& args, int blocks, cudaStream_t stream);

}  // namespace prism::kernels
