// Bandwidth of the reduce kernel against a device-to-device cudaMemcpy on one GPU, the
// ceiling for a streaming kernel. Bytes count every byte read and written: 2x the size
// for a copy, 3x for out = a + b. The reduce should reach >= 90% of the copy's rate.
//
//   prism_reduce_bench [MiB per buffer, default 256] [iterations, default 20]
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "kernels/cuda/device_reduce.h"

namespace {

using prism::DataType;
using prism::ReduceOp;

constexpr double kTarget = 0.90;

void checkCuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(err));
    std::exit(1);
  }
}

/// Mean milliseconds per run of `body` over `iters` runs, after two warm-up runs.
double timeMs(const std::function<void()>& body, int iters, cudaStream_t stream) {
  cudaEvent_t start, stop;
  checkCuda(cudaEventCreate(&start), "cudaEventCreate");
  checkCuda(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < 2; ++i) body();
  checkCuda(cudaEventRecord(start, stream), "cudaEventRecord");
  for (int i = 0; i < iters; ++i) body();
  checkCuda(cudaEventRecord(stop, stream), "cudaEventRecord");
  checkCuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
  float ms = 0;
  checkCuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / iters;
}

struct Row {
  std::string name;
  double bytesMoved;
  double ms;
  double gbps() const { return bytesMoved / (ms * 1e-3) / 1e9; }
};

void printRow(const Row& r, double copyGbps) {
  std::printf("%-26s %10.1f %10.1f %10.1f %8.1f%%\n", r.name.c_str(), r.bytesMoved / (1 << 20),
              r.ms * 1e3, r.gbps(), 100.0 * r.gbps() / copyGbps);
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  int iters = argc > 2 ? std::atoi(argv[2]) : 20;
  size_t bytes = mib << 20;

  cudaDeviceProp prop{};
  checkCuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("device: %s, %d SMs; %zu MiB per buffer, %d iterations\n", prop.name,
              prop.multiProcessorCount, mib, iters);

  void *a, *b, *dst;
  checkCuda(cudaMalloc(&a, bytes), "cudaMalloc");
  checkCuda(cudaMalloc(&b, bytes), "cudaMalloc");
  checkCuda(cudaMalloc(&dst, bytes), "cudaMalloc");
  // 0x3c bytes are small finite numbers as float and bf16 (no NaN or denormal paths).
  checkCuda(cudaMemset(a, 0x3c, bytes), "cudaMemset");
  checkCuda(cudaMemset(b, 0x3c, bytes), "cudaMemset");
  cudaStream_t stream;
  checkCuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");

  Row copy{"cudaMemcpy D2D", 2.0 * bytes,
           timeMs(
               [&] {
                 checkCuda(cudaMemcpyAsync(dst, a, bytes, cudaMemcpyDeviceToDevice, stream),
                           "cudaMemcpyAsync");
               },
               iters, stream)};
  Row copyKernel{"launchCopy", 2.0 * bytes,
                 timeMs([&] { prism::kernels::launchCopy(dst, a, bytes, stream); }, iters, stream)};
  Row reduceF32{"reduce float32 sum", 3.0 * bytes,
                timeMs(
                    [&] {
                      prism::kernels::launchReduce(DataType::Float32, ReduceOp::Sum, dst, a, b,
                                                   bytes / 4, stream);
                    },
                    iters, stream)};
  Row reduceBf16{"reduce bf16 sum", 3.0 * bytes,
                 timeMs(
                     [&] {
                       prism::kernels::launchReduce(DataType::Bfloat16, ReduceOp::Sum, dst, a, b,
                                                    bytes / 2, stream);
                     },
                     iters, stream)};
  checkCuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");

  std::printf("%-26s %10s %10s %10s %9s\n", "kernel", "MiB moved", "time us", "GB/s", "vs copy");
  double copyGbps = copy.gbps();
  for (const Row& r : {copy, copyKernel, reduceF32, reduceBf16}) printRow(r, copyGbps);
  bool met = reduceF32.gbps() >= kTarget * copyGbps && reduceBf16.gbps() >= kTarget * copyGbps;
  std::printf("ratio float32 %.3f, bf16 %.3f (target >= %.2f): %s\n", reduceF32.gbps() / copyGbps,
              reduceBf16.gbps() / copyGbps, kTarget, met ? "met" : "NOT met");

  cudaStreamDestroy(stream);
  cudaFree(a);
  cudaFree(b);
  cudaFree(dst);
  return 0;
}
