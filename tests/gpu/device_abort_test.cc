// ncclCommAbort while device work waits for a peer that never joins: rank 0 enqueues an
// allreduce that rank 1 never calls, checks ncclCommGetAsyncError while it is pending, and
// aborts from the host; the abort must return, and the waiting kernel must give up so
// that the stream drains. Every wait is bounded. Ranks are threads sharing the GPU(s);
// skipped, with the reason, without a CUDA device.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nccl.h"
#include "tests/gpu/gpu_fixtures.h"

namespace prism::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kN = 1 << 20;
constexpr milliseconds kCallLimit{5000};    // the lone call must only enqueue
constexpr milliseconds kAbortLimit{10000};  // abort, the caller thread, the stream

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Waits up to `limit` for `flag`; true if it was set.
bool waitForFlag(const std::atomic<bool>& flag, milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!flag.load()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// The lone allreduce, issued from its own thread so that a call that wrongly waits for
// the peer on the host still lets the rank abort. Everything it touches is owned here,
// so that a thread stuck past the test's patience can be left behind safely.
struct LoneCall {
  std::atomic<bool> returned{false};
  std::atomic<ncclResult_t> result{ncclInternalError};
};

// Joins the caller thread if its call returned, else leaves it behind; never lets a
// joinable std::thread be destroyed (that would terminate the test program).
struct CallerThread {
  std::shared_ptr<LoneCall> call;
  std::thread thread;
  ~CallerThread() {
    if (!thread.joinable()) return;
    if (call->returned) {
      thread.join();
    } else {
      thread.detach();
    }
  }
};

void rankBody(RankContext& ctx) {
  // Raw allocations: if the aborted work never left the GPU, cudaFree would block forever,
  // so the buffers are freed only once the stream has drained.
  void* send = nullptr;
  void* recv = nullptr;
  requireCuda(ctx, cudaMalloc(&send, kN * sizeof(float)), "cudaMalloc");
  requireCuda(ctx, cudaMalloc(&recv, kN * sizeof(float)), "cudaMalloc");
  auto stream = std::make_unique<DeviceStream>();
  // Both ranks first run one allreduce together, so that connection setup is done and
  // the lone call below has nothing left to agree on with its peer.
  ctx.requireOk(ncclAllReduce(send, recv, kN, ncclFloat32, ncclSum, ctx.comm, stream->get()),
                "ncclAllReduce (both ranks, before the lone call)");
  stream->synchronize();
  ctx.barrier();
  if (ctx.rank == 1) {
    ctx.barrier();  // never calls again; waits until rank 0 has aborted
    ncclComm_t comm = ctx.comm;
    ctx.comm = nullptr;
    ctx.requireOk(ncclCommAbort(comm), "ncclCommAbort on the rank that never called");
    stream->synchronize();
    cudaFree(send);
    cudaFree(recv);
    return;
  }

  auto call = std::make_shared<LoneCall>();
  CallerThread caller{call, std::thread([call, send, recv, comm = ctx.comm, s = stream->get(),
                                         device = currentCudaDevice()] {
                        cudaSetDevice(device);
                        call->result = ncclAllReduce(send, recv, kN, ncclFloat32, ncclSum, comm, s);
                        call->returned = true;
                      })};
  const bool returned = waitForFlag(call->returned, kCallLimit);
  ctx.expect(returned,
             "ncclAllReduce that rank 1 never joins did not return within 5 s: it "
             "must enqueue its device work and return");
  if (returned) {
    ctx.expect(call->result == ncclSuccess,
               "the lone ncclAllReduce returned " + resultName(call->result));
    for (int check = 0; check < 2; ++check) {
      ncclResult_t async = ncclInternalError;
      ctx.requireOk(ncclCommGetAsyncError(ctx.comm, &async),
                    "ncclCommGetAsyncError while device work is pending");
      ctx.expect(async == ncclSuccess || async == ncclInProgress,
                 "ncclCommGetAsyncError reported " + resultName(async) +
                     " before the abort, expected ncclSuccess or ncclInProgress");
      if (check == 0) std::this_thread::sleep_for(milliseconds(200));
    }
    ctx.expect(!stream->idle(), "the allreduce completed although rank 1 never called it");
  } else {
    std::this_thread::sleep_for(milliseconds(200));
  }

  const auto start = Clock::now();
  ncclComm_t comm = ctx.comm;
  ctx.comm = nullptr;
  ctx.requireOk(ncclCommAbort(comm), "ncclCommAbort with an allreduce pending");
  const double abortMs = millisecondsSince(start);
  ctx.expect(abortMs < kAbortLimit.count(),
             "ncclCommAbort took " + std::to_string(abortMs) + " ms, expected under 10 s");
  // A caller still blocked is left behind by CallerThread: it owns nothing of this frame.
  ctx.expect(waitForFlag(call->returned, kAbortLimit),
             "ncclAllReduce was still blocked 10 s after ncclCommAbort");
  const bool drained = stream->waitFor(kAbortLimit);
  ctx.expect(drained, "the aborted allreduce still occupied its stream 10 s after the abort");
  if (drained) {
    stream.reset();
    cudaFree(send);
    cudaFree(recv);
  } else {
    (void)stream.release();  // destroying it, or freeing its buffers, could block
  }
  ctx.barrier();
}

class DeviceAbort : public CudaTest {};

TEST_F(DeviceAbort, AbortReturnsWhileAnAllReduceIsPending) {
  RunOptions options = deviceRunOptions();
  options.timeout = std::chrono::seconds(90);  // a hang is reported, not waited out
  runRanks(2, Mode::Threads, rankBody, options);
}

}  // namespace
}  // namespace prism::test
