// The CUDA matrix-product backend: one stream and three reused device buffers per backend
// (one backend per rank); every product copies its operands in, runs the ordered kernel,
// copies the result out and waits for its stream.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

#include "train/model/cuda/matmul_cuda.h"
#include "train/model/cuda/ordered_product.cuh"

namespace prism::train {
namespace {

std::atomic<uint64_t> offloads{0};

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("prism-train CUDA matmul: ") + what + ": " +
                             cudaGetErrorString(err));
}

// Makes `device` current for a scope (thread ranks may have switched it) and switches back.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check(cudaSetDevice(device), "cudaSetDevice");
    device_ = device;
  }
  ~DeviceScope() {
    if (previous_ != device_) cudaSetDevice(previous_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = -1, device_ = -1;
};

class CudaMatmulBackend final : public MatmulBackend {
 public:
  CudaMatmulBackend() {
    check(cudaGetDevice(&device_), "cudaGetDevice");
    // Non-blocking: no implicit ordering with the legacy default stream other code may use.
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }

  // Errors here are ignored: a destructor cannot report them, and the process is
  // usually ending a run.
  ~CudaMatmulBackend() override {
    int previous = device_;
    cudaGetDevice(&previous);
    if (previous != device_) cudaSetDevice(device_);
    for (Buffer* b : {&a_, &b_, &c_})
      if (b->data) cudaFreeAsync(b->data, stream_);
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
    if (previous != device_) cudaSetDevice(previous);
  }

  const char* name() const override { return "cuda"; }
  bool wants(int m, int k, int n) const override { return worthOffloading(m, k, n); }

  void matmul(const float* a, const float* b, float* c, int m, int k, int n,
              bool accumulate) override {
    const cuda::OrderedProduct p = cuda::plainProduct(m, k, n);
    if (accumulate)
      run<cuda::Start::FromOutput>(p, a, size_t(m) * k, b, size_t(k) * n, c);
    else
      run<cuda::Start::Zero>(p, a, size_t(m) * k, b, size_t(k) * n, c);
  }

  void matmulBt(const float* a, const float* b, float* c, int m, int k, int n) override {
    run<cuda::Start::AddSum>(cuda::transposedRhsProduct(m, k, n), a, size_t(m) * k, b,
                             size_t(n) * k, c);
  }

  void matmulAt(const float* a, const float* b, float* c, int m, int k, int n) override {
    run<cuda::Start::FromOutput>(cuda::transposedLhsProduct(m, k, n), a, size_t(m) * k, b,
                                 size_t(m) * n, c);
  }

 private:
  struct Buffer {
    float* data = nullptr;
    size_t capacity = 0;  // floats
  };

  // Grows geometrically, stream-ordered: cudaFree would wait for the whole device, and a
  // peer rank's collective kernel may be waiting there for this rank (deadlock).
  void reserve(Buffer& buffer, size_t count) {
    if (count <= buffer.capacity) return;
    const size_t capacity = std::max(count, buffer.capacity * 2);
    if (buffer.data) check(cudaFreeAsync(buffer.data, stream_), "cudaFreeAsync");
    buffer.data = nullptr;
    buffer.capacity = 0;
    void* fresh = nullptr;
    check(cudaMallocAsync(&fresh, capacity * sizeof(float), stream_),
          ("cudaMallocAsync of " + std::to_string(capacity * sizeof(float)) + " bytes").c_str());
    buffer.data = static_cast<float*>(fresh);
    buffer.capacity = capacity;
  }

  template <cuda::Start start>
  void run(cuda::OrderedProduct p, const float* a, size_t aCount, const float* b, size_t bCount,
           float* c) {
    const size_t cCount = size_t(p.rows) * p.cols;
    if (cCount == 0) return;
    const int rowBlocks = (p.rows + cuda::kTile - 1) / cuda::kTile;
    if (rowBlocks > 65535) throw std::runtime_error("prism-train CUDA matmul: too many rows");
    DeviceScope scope(device_);
    reserve(a_, aCount);
    reserve(b_, bCount);
    reserve(c_, cCount);
    copyIn(a_.data, a, aCount);
    copyIn(b_.data, b, bCount);
    if (start != cuda::Start::Zero) copyIn(c_.data, c, cCount);
    p.lhs = a_.data;
    p.rhs = b_.data;
    p.out = c_.data;
    const dim3 block(cuda::kTile, cuda::kTile);
    const dim3 grid((p.cols + cuda::kTile - 1) / cuda::kTile, rowBlocks);
    cuda::orderedProductKernel<start><<<grid, block, 0, stream_>>>(p);
    check(cudaGetLastError(), "kernel launch");
    check(cudaMemcpyAsync(c, c_.data, cCount * sizeof(float), cudaMemcpyDeviceToHost, stream_),
          "cudaMemcpyAsync device to host");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    offloads.fetch_add(1, std::memory_order_relaxed);
  }

  void copyIn(float* device, const float* host, size_t count) {
    if (count == 0) return;
    check(cudaMemcpyAsync(device, host, count * sizeof(float), cudaMemcpyHostToDevice, stream_),
          "cudaMemcpyAsync host to device");
  }

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  Buffer a_, b_, c_;
};

}  // namespace

std::unique_ptr<MatmulBackend> makeCudaMatmulBackend() {
  const std::string why = cudaMatmulUnavailableReason();
  if (!why.empty()) throw std::runtime_error("--device cuda: " + why);
  return std::make_unique<CudaMatmulBackend>();
}

std::string cudaMatmulUnavailableReason() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear it for later calls
    return std::string("no usable CUDA device: ") + cudaGetErrorString(err);
  }
  return count > 0 ? std::string() : std::string("no CUDA device");
}

uint64_t cudaMatmulOffloads() { return offloads.load(std::memory_order_relaxed); }

}  // namespace prism::train
