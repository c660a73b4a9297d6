// The API around device memory, on the GPU: calls only enqueue on the caller's stream,
// collectives can be captured into CUDA graphs and replayed, ncclMemAlloc / registration /
// ncclCommCuDevice behave as with NVIDIA's NCCL, and a call mixing host and device buffers
// is rejected. (Abort with device work pending: device_abort_test.cc.) Ranks are threads
// sharing the GPU(s). Skipped, with the reason, without a CUDA device.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nccl.h"
#include "tests/gpu/gpu_fixtures.h"
#include "tests/gpu/spin_kernel.h"

namespace prism::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Element i of `rank`'s input in round `round`: small integers, so every sum is exact.
float inputValue(int rank, int round, size_t i) {
  return static_cast<float>((rank + 1) * (round + 1) + static_cast<int>(i % 13));
}

std::vector<float> inputOf(int rank, int round, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = inputValue(rank, round, i);
  return v;
}

float sumOverRanks(int nranks, int round, size_t i) {
  float sum = 0;
  for (int r = 0; r < nranks; ++r) sum += inputValue(r, round, i);
  return sum;
}

// "" when out[i] == expected(i) for every i, else the number of mismatches and the first.
std::string mismatches(const std::vector<float>& out,
                       const std::function<float(size_t)>& expected) {
  size_t bad = 0;
  std::string first;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == expected(i)) continue;
    if (bad++ == 0) {
      first = "[" + std::to_string(i) + "] expected " + std::to_string(expected(i)) + " got " +
              std::to_string(out[i]);
    }
  }
  return bad == 0 ? "" : std::to_string(bad) + " mismatches, first " + first;
}

std::vector<float> download(const DeviceMemory& mem, size_t n) {
  std::vector<float> out(n);
  mem.download(0, out.data(), n * sizeof(float));
  return out;
}

// ---- (a) A call enqueues its device work and returns without waiting for the stream. ----

constexpr uint64_t kSpinNs = 500'000'000;  // the kernel queued ahead of each call
constexpr double kMaxCallMs = 250;         // the call must return well before it ends

class StreamSemantics : public CudaTest {};

TEST_F(StreamSemantics, CallsReturnBeforeEarlierDeviceWorkFinishes) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        constexpr size_t kN = size_t{1} << 18;
        constexpr size_t kBytes = kN * sizeof(float);
        const int next = (ctx.rank + 1) % ctx.nranks;
        const int prev = (ctx.rank + ctx.nranks - 1) % ctx.nranks;
        DeviceStream stream;
        DeviceMemory send(kBytes), recv(kBytes);
        struct Call {
          const char* name;
          std::function<ncclResult_t()> issue;
          std::function<float(size_t, int)> expected;  // element i in round `round`
        };
        const std::vector<Call> calls = {
            {"ncclAllReduce",
             [&] {
               return ncclAllReduce(send.get(), recv.get(), kN, ncclFloat32, ncclSum, ctx.comm,
                                    stream.get());
             },
             [&](size_t i, int round) { return sumOverRanks(ctx.nranks, round, i); }},
            {"ncclGroupEnd of a send/recv ring",
             [&] {
               ncclResult_t r = ncclGroupStart();
               if (r == ncclSuccess)
                 r = ncclSend(send.get(), kN, ncclFloat32, next, ctx.comm, stream.get());
               if (r == ncclSuccess)
                 r = ncclRecv(recv.get(), kN, ncclFloat32, prev, ctx.comm, stream.get());
               const ncclResult_t end = ncclGroupEnd();
               return r != ncclSuccess ? r : end;
             },
             [&](size_t i, int round) { return inputValue(prev, round, i); }}};
        for (const Call& call : calls) {
          // Round 0 runs eagerly (it may set up connections); round 1 is queued behind a
          // kernel that keeps the stream busy for kSpinNs.
          for (int round = 0; round < 2; ++round) {
            const std::vector<float> in = inputOf(ctx.rank, round, kN);
            send.upload(0, in.data(), kBytes, stream.get());
            requireCuda(ctx, cudaMemsetAsync(recv.get(), 0xff, kBytes, stream.get()),
                        "cudaMemsetAsync");
            double callMs = 0;
            bool idleAfterCall = false;
            if (round == 1) {
              ctx.barrier();  // both ranks queue their kernel and call together
              requireCuda(ctx, launchSpin(stream.get(), kSpinNs), "launchSpin");
              const auto start = Clock::now();
              ctx.requireOk(call.issue(), std::string(call.name) + " behind a busy stream");
              callMs = millisecondsSince(start);
              idleAfterCall = stream.idle();
            } else {
              ctx.requireOk(call.issue(), call.name);
            }
            stream.synchronize();
            const std::string bad =
                mismatches(download(recv, kN), [&](size_t i) { return call.expected(i, round); });
            ctx.expect(bad.empty(), std::string(call.name) + " round " + std::to_string(round) +
                                        " after cudaStreamSynchronize: " + bad);
            if (round == 0) continue;
            ctx.expect(callMs < kMaxCallMs,
                       std::string(call.name) + " took " + std::to_string(callMs) +
                           " ms behind a 500 ms kernel: it waited for the device instead of "
                           "enqueueing on the stream");
            ctx.expect(!idleAfterCall, std::string(call.name) +
                                           " returned with its stream idle: it waited for the "
                                           "kernel queued ahead of it");
          }
        }
      },
      deviceRunOptions());
}

// ---- (b) Collectives captured into a CUDA graph replay with the inputs of the moment. ----

class GraphCapture : public CudaParamTest<bool> {};

// Per rank: x -> allreduce -> y -> allreduce -> z -> allreduce in place -> z, captured once
// and replayed 5 times with new inputs in x. With n ranks, y = sum(x) and z = n^2 * y.
TEST_P(GraphCapture, ReplaysThreeAllReducesWithChangingInputs) {
  const bool eagerFirst = GetParam();
  runRanks(
      2, Mode::Threads,
      [eagerFirst](RankContext& ctx) {
        constexpr size_t kN = 65537;
        constexpr size_t kBytes = kN * sizeof(float);
        const float n = static_cast<float>(ctx.nranks);
        DeviceStream stream;
        DeviceMemory x(kBytes), y(kBytes), z(kBytes);
        cudaStream_t s = stream.get();
        auto enqueueChain = [&](const std::string& when) {
          ctx.requireOk(ncclAllReduce(x.get(), y.get(), kN, ncclFloat32, ncclSum, ctx.comm, s),
                        "ncclAllReduce x->y " + when);
          ctx.requireOk(ncclAllReduce(y.get(), z.get(), kN, ncclFloat32, ncclSum, ctx.comm, s),
                        "ncclAllReduce y->z " + when);
          ctx.requireOk(ncclAllReduce(z.get(), z.get(), kN, ncclFloat32, ncclSum, ctx.comm, s),
                        "ncclAllReduce z in place " + when);
        };
        auto check = [&](int round, const std::string& what) {
          const std::string badY = mismatches(
              download(y, kN), [&](size_t i) { return sumOverRanks(ctx.nranks, round, i); });
          ctx.expect(badY.empty(), what + ": y: " + badY);
          const std::string badZ = mismatches(download(z, kN), [&](size_t i) {
            return n * n * sumOverRanks(ctx.nranks, round, i);
          });
          ctx.expect(badZ.empty(), what + ": z: " + badZ);
        };
        auto setInputs = [&](int round) {
          const std::vector<float> in = inputOf(ctx.rank, round, kN);
          x.upload(0, in.data(), kBytes, s);
          requireCuda(ctx, cudaMemsetAsync(y.get(), 0xff, kBytes, s), "cudaMemsetAsync(y)");
          requireCuda(ctx, cudaMemsetAsync(z.get(), 0xff, kBytes, s), "cudaMemsetAsync(z)");
        };
        if (eagerFirst) {
          setInputs(100);
          enqueueChain("(eager, before capture)");
          stream.synchronize();
          check(100, "eager run before capture");
        }
        // Thread-local capture: the other rank's thread keeps making CUDA calls meanwhile.
        requireCuda(ctx, cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal),
                    "cudaStreamBeginCapture");
        enqueueChain("(captured)");
        cudaGraph_t graph = nullptr;
        requireCuda(ctx, cudaStreamEndCapture(s, &graph), "cudaStreamEndCapture");
        cudaGraphExec_t exec = nullptr;
        requireCuda(ctx, cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
        for (int round = 0; round < 5; ++round) {
          setInputs(round);
          requireCuda(ctx, cudaGraphLaunch(exec, s), "cudaGraphLaunch");
          stream.synchronize();
          check(round, "graph replay " + std::to_string(round));
        }
        requireCuda(ctx, cudaGraphExecDestroy(exec), "cudaGraphExecDestroy");
        requireCuda(ctx, cudaGraphDestroy(graph), "cudaGraphDestroy");
      },
      deviceRunOptions());
}

INSTANTIATE_TEST_SUITE_P(Order, GraphCapture, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "AfterEagerCall" : "CaptureFirst";
                         });

// ---- (c-f) Memory, registration, device query, and mixed buffers. ----

class DeviceMemoryApi : public CudaTest {};

// A summing allreduce of n floats from `send` to `recv` on a fresh stream, checked.
void checkedAllReduce(RankContext& ctx, void* send, void* recv, size_t n, const std::string& what) {
  DeviceStream stream;
  const std::vector<float> in = inputOf(ctx.rank, 7, n);
  requireCuda(
      ctx,
      cudaMemcpyAsync(send, in.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream.get()),
      "cudaMemcpyAsync");
  ctx.requireOk(ncclAllReduce(send, recv, n, ncclFloat32, ncclSum, ctx.comm, stream.get()),
                "ncclAllReduce " + what);
  stream.synchronize();
  std::vector<float> out(n);
  requireCuda(ctx, cudaMemcpy(out.data(), recv, n * sizeof(float), cudaMemcpyDeviceToHost),
              "cudaMemcpy");
  const std::string bad = mismatches(out, [&](size_t i) { return sumOverRanks(ctx.nranks, 7, i); });
  ctx.expect(bad.empty(), "ncclAllReduce " + what + ": " + bad);
}

TEST_F(DeviceMemoryApi, MemAllocReturnsDeviceMemory) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        constexpr size_t kN = 300007;
        void* send = nullptr;
        void* recv = nullptr;
        ctx.requireOk(ncclMemAlloc(&send, kN * sizeof(float)), "ncclMemAlloc(send)");
        ctx.requireOk(ncclMemAlloc(&recv, kN * sizeof(float)), "ncclMemAlloc(recv)");
        for (void* p : {send, recv}) {
          cudaPointerAttributes attributes{};
          requireCuda(ctx, cudaPointerGetAttributes(&attributes, p), "cudaPointerGetAttributes");
          ctx.expect(attributes.type == cudaMemoryTypeDevice,
                     std::string("ncclMemAlloc returned ") + pointerKindName(pointerKind(p)) +
                         ", expected device memory");
          ctx.expect(attributes.device == currentCudaDevice(),
                     "ncclMemAlloc memory is on device " + std::to_string(attributes.device) +
                         ", not the current device " + std::to_string(currentCudaDevice()));
        }
        checkedAllReduce(ctx, send, recv, kN, "on ncclMemAlloc buffers");
        ctx.requireOk(ncclMemFree(send), "ncclMemFree(send)");
        ctx.requireOk(ncclMemFree(recv), "ncclMemFree(recv)");
      },
      deviceRunOptions());
}

TEST_F(DeviceMemoryApi, RegisterAndDeregisterDeviceBuffers) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        constexpr size_t kN = 100003;
        DeviceMemory send(kN * sizeof(float)), recv(kN * sizeof(float));
        void* sendHandle = nullptr;
        void* recvHandle = nullptr;
        ctx.requireOk(ncclCommRegister(ctx.comm, send.get(), send.bytes(), &sendHandle),
                      "ncclCommRegister(device send buffer)");
        ctx.requireOk(ncclCommRegister(ctx.comm, recv.get(), recv.bytes(), &recvHandle),
                      "ncclCommRegister(device recv buffer)");
        checkedAllReduce(ctx, send.get(), recv.get(), kN, "on registered device buffers");
        ctx.requireOk(ncclCommDeregister(ctx.comm, sendHandle), "ncclCommDeregister(send)");
        ctx.requireOk(ncclCommDeregister(ctx.comm, recvHandle), "ncclCommDeregister(recv)");
        checkedAllReduce(ctx, send.get(), recv.get(), kN, "after deregistering the buffers");
      },
      deviceRunOptions());
}

TEST_F(DeviceMemoryApi, CommCuDeviceIsTheDeviceCurrentAtInit) {
  runRanks(
      3, Mode::Threads,
      [](RankContext& ctx) {
        const int count = cudaDeviceCount();
        const int atInit = ctx.rank % count;  // deviceRunOptions selected it before init
        int device = -1;
        ctx.requireOk(ncclCommCuDevice(ctx.comm, &device), "ncclCommCuDevice");
        ctx.expect(device == atInit, "ncclCommCuDevice gave " + std::to_string(device) +
                                         ", the device current at init was " +
                                         std::to_string(atInit));
        if (count > 1) {  // the answer must not follow the thread's current device
          requireCuda(ctx, cudaSetDevice((atInit + 1) % count), "cudaSetDevice");
          ctx.requireOk(ncclCommCuDevice(ctx.comm, &device), "ncclCommCuDevice");
          ctx.expect(device == atInit, "after cudaSetDevice, ncclCommCuDevice gave " +
                                           std::to_string(device) + ", expected " +
                                           std::to_string(atInit));
          requireCuda(ctx, cudaSetDevice(atInit), "cudaSetDevice");
        }
      },
      deviceRunOptions());
}

// Prism requires both buffers of one call on the same side of the bus.
TEST_F(DeviceMemoryApi, HostAndDeviceBuffersInOneCallAreRejected) {
  runRanks(
      2, Mode::Threads,
      [](RankContext& ctx) {
        constexpr size_t kN = 1024;
        DeviceMemory device(kN * ctx.nranks * sizeof(float));
        std::vector<float> host(kN * ctx.nranks, 1.0f);
        DeviceStream stream;
        struct Mixed {
          const char* name;
          std::function<ncclResult_t()> issue;
        };
        const std::vector<Mixed> calls = {
            {"ncclAllReduce(host send, device recv)",
             [&] {
               return ncclAllReduce(host.data(), device.get(), kN, ncclFloat32, ncclSum, ctx.comm,
                                    stream.get());
             }},
            {"ncclAllReduce(device send, host recv)",
             [&] {
               return ncclAllReduce(device.get(), host.data(), kN, ncclFloat32, ncclSum, ctx.comm,
                                    stream.get());
             }},
            {"ncclAllGather(host send, device recv)", [&] {
               return ncclAllGather(host.data(), device.get(), kN, ncclFloat32, ctx.comm,
                                    stream.get());
             }}};
        for (const Mixed& call : calls) {
          ctx.requireResult(call.issue(), ncclInvalidArgument, call.name);
          const char* last = ncclGetLastError(ctx.comm);
          ctx.expect(last != nullptr && last[0] != '\0',
                     std::string(call.name) + " failed with an empty ncclGetLastError");
        }
        stream.synchronize();
        // The rejected calls left the communicator usable.
        DeviceMemory send(kN * sizeof(float)), recv(kN * sizeof(float));
        checkedAllReduce(ctx, send.get(), recv.get(), kN, "after the rejected calls");
      },
      deviceRunOptions());
}

}  // namespace
}  // namespace prism::test
