// Runs one collective case through the public NCCL API on one rank and checks every
// rank's output against the reference: the output region, the send buffer left intact
// (out of place), and guard bytes past the output left untouched. The buffers are host
// memory or CUDA device memory; device cases are checked on host copies of the buffers.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "base/collective.h"
#include "nccl.h"
#include "tests/harness/rank_runner.h"
#include "tests/harness/reference.h"

namespace prism::test {

/// The project's one collective enum (prism/collective.hpp); SendRecv is the ring
/// exchange: send to rank+1, receive from rank-1, in one group.
using Coll = Collective;
bool isReducing(Coll coll);
bool hasInPlace(Coll coll);

/// Elements of the send buffer / receive buffer for the API count `count`.
size_t inputElements(Coll coll, size_t count, int nranks);
size_t outputElements(Coll coll, size_t count, int nranks);

/// RunOptions::sharedBytes a CollectiveChecker needs for counts up to `maxCount`.
size_t checkerSharedBytes(Coll coll, int nranks, size_t maxCount);

/// Where the buffers handed to the library live.
///   Host:   plain host memory; calls get the null stream and complete on return.
///   Device: cudaMalloc'ed on the current device. Inputs are copied in on a stream of the
///           rank's own, the call is enqueued on that stream, and the buffers are copied
///           back after cudaStreamSynchronize to be checked like host buffers.
enum class Memory { Host, Device };

const char* memoryName(Memory memory);

class DeviceMemory;
class DeviceStream;

class CollectiveChecker {
 public:
  /// Allocates this rank's buffers once, large enough for `maxCount` of any type. Device
  /// memory goes on the calling thread's current device (see selectRankDevice).
  CollectiveChecker(RankContext& ctx, Coll coll, size_t maxCount, Memory memory = Memory::Host);
  ~CollectiveChecker();
  CollectiveChecker(const CollectiveChecker&) = delete;
  CollectiveChecker& operator=(const CollectiveChecker&) = delete;

  /// Selects the element type and operator of the next cases and generates this rank's
  /// input at the largest size (every count uses a prefix of it), unless the previous
  /// selection drew the same input. Every rank must call it before the next run: the
  /// reference of a reducing collective reads every rank's input.
  void prepare(ncclDataType_t dtype, std::optional<RefOp> op);

  /// Runs one case on ctx.comm and checks it. Every rank must call it with the same
  /// arguments. Data mismatches are recorded with ctx.expect (the rank goes on); an error
  /// from the library ends the rank. Returns true if this rank's checks passed.
  bool run(size_t count, bool inPlace, int root);

  /// "AllReduce float16 sum count=7 in-place root=0 nranks=3 (threads)", with ", device
  /// memory" inside the parentheses for device buffers.
  std::string describe(size_t count, bool inPlace, int root) const;

 private:
  struct Free {
    void operator()(void* p) const;
  };
  using Buffer = std::unique_ptr<unsigned char, Free>;

  ncclResult_t issue(const void* send, void* recv, size_t count, int root, ncclRedOp_t op,
                     cudaStream_t stream);
  /// Device memory: the device address matching a pointer into send_ or recv_.
  void* onDevice(const void* host) const;
  void computeExpectedSlice(size_t count);
  std::string checkOutput(size_t count, bool inPlace, int root, const unsigned char* recvPtr,
                          unsigned char poison);

  RankContext& ctx_;
  Coll coll_;
  size_t maxCount_;
  Memory memory_;
  InputSpec spec_;
  size_t elementSize_ = 1;
  /// Where rank `rank` keeps its generated input (shared memory, reducing collectives).
  unsigned char* inputOf(int rank);

  Buffer ownPristine_;  // the input of a data-movement collective, private to the rank
  unsigned char* pristine_ = nullptr;
  bool prepared_ = false;
  // The send and receive buffers. With device memory these are host mirrors of devSend_
  // and devRecv_: prepared here, uploaded before the call, downloaded after it.
  Buffer send_;
  Buffer recv_;
  size_t sendBytes_ = 0;
  size_t recvBytes_ = 0;
  std::unique_ptr<DeviceStream> stream_;
  std::unique_ptr<DeviceMemory> devSend_;
  std::unique_ptr<DeviceMemory> devRecv_;
  unsigned caseCounter_ = 0;
  /// The count whose expected values the shared buffer holds for the prepared type and
  /// operator (they do not depend on in-place or root), or ~0 when none.
  size_t expectedCount_;
  /// Leading bytes of the send buffer known to equal the prepared input.
  size_t sendValidBytes_ = 0;
};

}  // namespace prism::test

namespace prism {
/// Lets GoogleTest print a Collective test parameter by name (found by argument lookup).
void PrintTo(Collective c, std::ostream* out);
}  // namespace prism
