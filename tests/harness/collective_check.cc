#include "tests/harness/collective_check.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <sstream>
#include <vector>

#include "tests/harness/cuda_support.h"
#include "tests/harness/dtype_traits.h"

namespace prism::test {
namespace {

// Bytes past the output that must stay untouched.
constexpr size_t kGuardBytes = 256;
constexpr size_t kMaxElementBytes = 8;
constexpr size_t kNoExpected = ~size_t{0};
// How long one device case may take after its call returned.
constexpr std::chrono::seconds kDeviceWait{60};

size_t roundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

std::string firstDifference(const unsigned char* a, const unsigned char* b, size_t bytes) {
  if (std::memcmp(a, b, bytes) == 0) return "";
  for (size_t i = 0; i < bytes; ++i) {
    if (a[i] != b[i]) return "byte " + std::to_string(i);
  }
  return "";
}

}  // namespace

bool isReducing(Coll coll) {
  return coll == Coll::AllReduce || coll == Coll::Reduce || coll == Coll::ReduceScatter;
}

bool hasInPlace(Coll coll) { return coll != Coll::SendRecv; }

size_t inputElements(Coll coll, size_t count, int nranks) {
  const bool perPeer =
      coll == Coll::ReduceScatter || coll == Coll::AllToAll || coll == Coll::Scatter;
  return perPeer ? count * nranks : count;
}

size_t outputElements(Coll coll, size_t count, int nranks) {
  const bool gathered = coll == Coll::AllGather || coll == Coll::AllToAll || coll == Coll::Gather;
  return gathered ? count * nranks : count;
}

// Shared memory of a reducing collective: the expected values, then every rank's input
// (so that the reference reads the inputs instead of generating them again).
size_t regionBytes(Coll coll, int nranks, size_t maxCount) {
  return roundUp(inputElements(coll, maxCount, nranks) * kMaxElementBytes, 4096);
}

size_t checkerSharedBytes(Coll coll, int nranks, size_t maxCount) {
  if (!isReducing(coll)) return 0;
  return (1 + nranks) * regionBytes(coll, nranks, maxCount);
}

const char* memoryName(Memory memory) {
  return memory == Memory::Host ? "host memory" : "device memory";
}

void CollectiveChecker::Free::operator()(void* p) const { std::free(p); }

CollectiveChecker::CollectiveChecker(RankContext& ctx, Coll coll, size_t maxCount, Memory memory)
    : ctx_(ctx), coll_(coll), maxCount_(maxCount), memory_(memory), expectedCount_(kNoExpected) {
  const size_t in = inputElements(coll, maxCount, ctx.nranks) * kMaxElementBytes;
  const size_t out = outputElements(coll, maxCount, ctx.nranks) * kMaxElementBytes;
  auto allocate = [](size_t bytes) {
    void* p = std::aligned_alloc(4096, roundUp(bytes + kGuardBytes, 4096));
    if (p == nullptr) throw std::bad_alloc();
    return Buffer(static_cast<unsigned char*>(p));
  };
  sendBytes_ = roundUp(in + kGuardBytes, 4096);
  recvBytes_ = roundUp(std::max(in, out) + kGuardBytes, 4096);
  send_ = allocate(in);
  recv_ = allocate(std::max(in, out));
  if (memory == Memory::Device) {
    stream_ = std::make_unique<DeviceStream>();
    devSend_ = std::make_unique<DeviceMemory>(sendBytes_);
    devRecv_ = std::make_unique<DeviceMemory>(recvBytes_);
  }
  ctx.require(ctx.sharedBytes() >= checkerSharedBytes(coll, ctx.nranks, maxCount),
              "RunOptions::sharedBytes too small for CollectiveChecker");
  if (isReducing(coll)) {
    pristine_ = inputOf(ctx.rank);
  } else {
    ownPristine_ = allocate(in);
    pristine_ = ownPristine_.get();
  }
}

unsigned char* CollectiveChecker::inputOf(int rank) {
  const size_t region = regionBytes(coll_, ctx_.nranks, maxCount_);
  return static_cast<unsigned char*>(ctx_.shared()) + (1 + rank) * region;
}

CollectiveChecker::~CollectiveChecker() = default;

void CollectiveChecker::prepare(ncclDataType_t dtype, std::optional<RefOp> op) {
  InputSpec next = spec_;
  next.dtype = dtype;
  next.op = isReducing(coll_) ? op : std::nullopt;
  const bool sameInput =
      prepared_ && next.dtype == spec_.dtype && inputPattern(next) == inputPattern(spec_);
  spec_ = next;
  elementSize_ = dtypeSize(dtype);
  expectedCount_ = kNoExpected;
  prepared_ = true;
  if (sameInput) return;
  sendValidBytes_ = 0;
  generateInput(spec_, ctx_.rank, 0, inputElements(coll_, maxCount_, ctx_.nranks), pristine_);
}

std::string CollectiveChecker::describe(size_t count, bool inPlace, int root) const {
  std::ostringstream s;
  s << collectiveName(coll_) << " " << dtypeName(spec_.dtype);
  if (spec_.op) s << " " << refOpName(*spec_.op);
  s << " count=" << count << (inPlace ? " in-place" : " out-of-place");
  if (isRooted(coll_)) s << " root=" << root;
  s << " nranks=" << ctx_.nranks << " (" << modeName(ctx_.mode);
  if (memory_ == Memory::Device) s << ", " << memoryName(memory_);
  s << ")";
  return s.str();
}

void* CollectiveChecker::onDevice(const void* host) const {
  const auto* p = static_cast<const unsigned char*>(host);
  if (p >= send_.get() && p < send_.get() + sendBytes_) return devSend_->get() + (p - send_.get());
  if (p >= recv_.get() && p < recv_.get() + recvBytes_) return devRecv_->get() + (p - recv_.get());
  ctx_.fail("CollectiveChecker: a buffer pointer outside both buffers");
}

ncclResult_t CollectiveChecker::issue(const void* send, void* recv, size_t count, int root,
                                      ncclRedOp_t op, cudaStream_t stream) {
  const ncclDataType_t t = spec_.dtype;
  ncclComm_t comm = ctx_.comm;
  switch (coll_) {
    case Coll::AllReduce:
      return ncclAllReduce(send, recv, count, t, op, comm, stream);
    case Coll::Broadcast:
      return ncclBroadcast(send, recv, count, t, root, comm, stream);
    case Coll::Reduce:
      return ncclReduce(send, recv, count, t, op, root, comm, stream);
    case Coll::AllGather:
      return ncclAllGather(send, recv, count, t, comm, stream);
    case Coll::ReduceScatter:
      return ncclReduceScatter(send, recv, count, t, op, comm, stream);
    case Coll::AllToAll:
      return ncclAlltoAll(send, recv, count, t, comm, stream);
    case Coll::Gather:
      return ncclGather(send, recv, count, t, root, comm, stream);
    case Coll::Scatter:
      return ncclScatter(send, recv, count, t, root, comm, stream);
    case Coll::SendRecv: {
      const int next = (ctx_.rank + 1) % ctx_.nranks;
      const int prev = (ctx_.rank + ctx_.nranks - 1) % ctx_.nranks;
      ctx_.requireOk(ncclGroupStart(), "ncclGroupStart");
      const ncclResult_t s = ncclSend(send, count, t, next, comm, stream);
      const ncclResult_t r = ncclRecv(recv, count, t, prev, comm, stream);
      const ncclResult_t e = ncclGroupEnd();
      return s != ncclSuccess ? s : (r != ncclSuccess ? r : e);
    }
  }
  return ncclInternalError;
}

void CollectiveChecker::computeExpectedSlice(size_t count) {
  const size_t total = inputElements(coll_, count, ctx_.nranks);
  const size_t lo = total * ctx_.rank / ctx_.nranks;
  const size_t hi = total * (ctx_.rank + 1) / ctx_.nranks;
  auto* expected = static_cast<unsigned char*>(ctx_.shared());
  std::vector<const void*> inputs;
  for (int r = 0; r < ctx_.nranks; ++r) inputs.push_back(inputOf(r));
  referenceReduceInputs(spec_, ctx_.nranks, inputs.data(), lo, hi - lo,
                        expected + lo * expectedElementBytes(spec_));
}

bool CollectiveChecker::run(size_t count, bool inPlace, int root) {
  ctx_.require(count <= maxCount_, "CollectiveChecker: count above maxCount");
  const int n = ctx_.nranks;
  const size_t es = elementSize_;
  const size_t in = inputElements(coll_, count, n) * es;
  const size_t out = outputElements(coll_, count, n) * es;
  const size_t seg = count * es;
  const bool isRoot = ctx_.rank == root;
  const auto poison = static_cast<unsigned char>(0x5a + 37 * ++caseCounter_);
  unsigned char* recv = recv_.get();
  unsigned char* send = send_.get();
  const unsigned char* pristine = pristine_;

  ctx_.barrier();  // every rank is done reading the previous case's expected values
  // Out of place, only the output and the guard past it are checked.
  const size_t recvSpan = (inPlace ? std::max(in, out) : out) + kGuardBytes;
  std::memset(recv, poison, recvSpan);
  const void* sendPtr = send;
  void* recvPtr = recv;
  const bool usesSendBuffer = !inPlace || (coll_ == Coll::Scatter && !isRoot);
  const bool device = memory_ == Memory::Device;
  if (usesSendBuffer) {
    // The send buffer keeps the input between cases (the library must not write it, which
    // is checked below), so only a missing tail needs copying.
    if (in > sendValidBytes_) {
      std::memcpy(send + sendValidBytes_, pristine + sendValidBytes_, in - sendValidBytes_);
      if (device) {
        devSend_->upload(sendValidBytes_, send + sendValidBytes_, in - sendValidBytes_,
                         stream_->get());
      }
      sendValidBytes_ = in;
    }
  } else {
    switch (coll_) {
      case Coll::Broadcast:
        if (isRoot) std::memcpy(recv, pristine, in);
        sendPtr = recv;
        break;
      case Coll::AllGather:
      case Coll::Gather:
        std::memcpy(recv + ctx_.rank * seg, pristine, seg);
        sendPtr = recv + ctx_.rank * seg;
        break;
      case Coll::ReduceScatter:
        std::memcpy(recv, pristine, in);
        sendPtr = recv;
        recvPtr = recv + ctx_.rank * seg;
        break;
      case Coll::Scatter:
        std::memcpy(recv, pristine, in);
        sendPtr = recv;
        recvPtr = recv + root * seg;
        break;
      default:  // AllReduce, Reduce, AlltoAll: one buffer holds the input, then the output
        std::memcpy(recv, pristine, in);
        sendPtr = recv;
        break;
    }
  }

  ncclRedOp_t op = ncclSum;
  if (spec_.op) op = builtinOp(*spec_.op);
  const bool customOp = spec_.op == RefOp::PreMulSum;
  if (customOp) {
    unsigned char scalar[kMaxElementBytes];
    encodeScalar(spec_.dtype, spec_.scalar, scalar);
    ctx_.requireOk(
        ncclRedOpCreatePreMulSum(&op, scalar, spec_.dtype, ncclScalarHostImmediate, ctx_.comm),
        "ncclRedOpCreatePreMulSum for " + describe(count, inPlace, root));
  }
  // Every rank passed the barrier above, so nobody still reads the old expected values.
  if (isReducing(coll_) && expectedCount_ != count) {
    computeExpectedSlice(count);
    expectedCount_ = count;
  }
  if (device) {
    // Ordered before the call on the same stream: the library must wait for it.
    devRecv_->upload(0, recv, recvSpan, stream_->get());
    ctx_.requireOk(issue(onDevice(sendPtr), onDevice(recvPtr), count, root, op, stream_->get()),
                   describe(count, inPlace, root));
  } else {
    ctx_.requireOk(issue(sendPtr, recvPtr, count, root, op, nullptr),
                   describe(count, inPlace, root));
  }
  if (customOp) ctx_.requireOk(ncclRedOpDestroy(op, ctx_.comm), "ncclRedOpDestroy");
  if (device) {
    // The results must be complete once the stream is: the downloads below are synchronous
    // copies on the legacy stream, which does not wait for the rank's non-blocking stream.
    // A hang on the device names its case instead of blocking in cudaStreamSynchronize.
    ctx_.require(stream_->waitFor(kDeviceWait),
                 describe(count, inPlace, root) + ": the stream did not complete within " +
                     std::to_string(kDeviceWait.count()) + " s of the call");
    stream_->synchronize();
    devRecv_->download(0, recv, recvSpan);
    if (usesSendBuffer) devSend_->download(0, send, in);
  }
  ctx_.barrier();  // every slice of the expected values is written

  const std::string problem =
      checkOutput(count, inPlace, root, static_cast<const unsigned char*>(recvPtr), poison);
  if (usesSendBuffer) {
    const std::string where = firstDifference(send, pristine, in);
    if (!where.empty()) sendValidBytes_ = 0;
    ctx_.expect(where.empty(),
                describe(count, inPlace, root) + ": the send buffer was modified at " + where);
  }
  const size_t guardAt = inPlace ? std::max(in, out) : out;
  const std::string guard = checkUntouched(recv + guardAt, kGuardBytes, poison,
                                           "memory past the end of the receive buffer");
  ctx_.expect(guard.empty(), describe(count, inPlace, root) + ": " + guard);
  return ctx_.expect(problem.empty(), describe(count, inPlace, root) + ": " + problem) &&
         guard.empty();
}

std::string CollectiveChecker::checkOutput(size_t count, bool inPlace, int root,
                                           const unsigned char* recvPtr, unsigned char poison) {
  const int n = ctx_.nranks;
  const int me = ctx_.rank;
  const size_t seg = count * elementSize_;
  const bool isRoot = me == root;
  const auto* expected = static_cast<const unsigned char*>(ctx_.shared());
  switch (coll_) {
    case Coll::AllReduce:
      return compareReduced(spec_, expected, recvPtr, count, 0);
    case Coll::Reduce:
      if (isRoot) return compareReduced(spec_, expected, recvPtr, count, 0);
      return inPlace ? "" : checkUntouched(recvPtr, seg, poison, "recvbuff of a non-root rank");
    case Coll::ReduceScatter:
      return compareReduced(spec_, expected + me * count * expectedElementBytes(spec_), recvPtr,
                            count, me * count);
    case Coll::Broadcast:
      return compareMoved(spec_, root, 0, recvPtr, count, 0);
    case Coll::Scatter:
      return compareMoved(spec_, root, me * count, recvPtr, count, 0);
    case Coll::SendRecv:
      return compareMoved(spec_, (me + n - 1) % n, 0, recvPtr, count, 0);
    case Coll::Gather:
      if (!isRoot) {
        return inPlace ? ""
                       : checkUntouched(recvPtr, n * seg, poison, "recvbuff of a non-root rank");
      }
      [[fallthrough]];
    case Coll::AllGather:
    case Coll::AllToAll: {
      std::string all;
      for (int r = 0; r < n; ++r) {
        const size_t first = coll_ == Coll::AllToAll ? me * count : 0;
        const std::string p = compareMoved(spec_, r, first, recvPtr + r * seg, count, r * count);
        if (!p.empty())
          all += (all.empty() ? "" : " | ") + ("block from rank " + std::to_string(r) + ": " + p);
      }
      return all;
    }
  }
  return "unknown collective";
}

}  // namespace prism::test

namespace prism {
void PrintTo(Collective c, std::ostream* out) { *out << collectiveName(c); }
}  // namespace prism
