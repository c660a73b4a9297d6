// Reduce and fused reduce-copy kernels: one kernel per (type, op), 48 in all; the second
// destination is a runtime argument, so RecvReduceSend costs no extra instantiations.
#include "kernels/cuda/device_reduce.h"
#include "kernels/cuda/dispatch.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/launch_config.h"

namespace prism::kernels {
namespace {

template <typename Codec, typename Op>
__global__ void __launch_bounds__(detail::kThreads, detail::kBlocksPerSm)
    reduceKernel(device::Operands<typename Codec::Storage> p, device::Split split) {
  using S = typename Codec::Storage;
  device::elementwise<true>(
      p, split, [](S a, S b) { return Codec::store(Op{}(Codec::load(a), Codec::load(b))); });
}

}  // namespace

void launchReduceCopy(DataType type, ReduceOp op, void* dst1, void* dst2, const void* a,
                      const void* b, size_t count, cudaStream_t stream) {
  device::visitCodec(type, [&]<typename Codec>(Codec) {
    device::visitOp(op, [&]<typename Op>(Op) {
      if (count == 0) return;
      using S = typename Codec::Storage;
      device::Operands<S> p{static_cast<S*>(dst1), static_cast<S*>(dst2), static_cast<const S*>(a),
                            static_cast<const S*>(b), count};
      const void* ptrs[] = {a, b, dst1, dst2};
      device::Split split = device::splitForVectors(sizeof(S), count, ptrs, 4);
      unsigned grid = detail::gridFor(device::splitWork(split, sizeof(S), count));
      reduceKernel<Codec, Op><<<grid, detail::kThreads, 0, stream>>>(p, split);
      detail::checkLaunch("reduce kernel launch");
    });
  });
}

void launchReduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count,
                  cudaStream_t stream) {
  launchReduceCopy(type, op, dst, nullptr, a, b, count, stream);
}

}  // namespace prism::kernels
