// Scale (PreMulSum's premultiply) and divide (Avg's final step): one kernel per type each.
#include <cstring>

#include "base/error.h"
#include "kernels/cuda/device_reduce.h"
#include "kernels/cuda/dispatch.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/launch_config.h"

namespace prism::kernels {
namespace {

template <typename Codec>
__global__ void __launch_bounds__(detail::kThreads, detail::kBlocksPerSm)
    scaleKernel(device::Operands<typename Codec::Storage> p, device::Split split,
                typename Codec::Storage factor) {
  using S = typename Codec::Storage;
  auto f = Codec::load(factor);
  // Same operand order as the host (element first), which decides the NaN kept.
  device::elementwise<false>(
      p, split, [f](S x, S) { return Codec::store(device::ProdOp{}(Codec::load(x), f)); });
}

template <typename Codec>
__global__ void __launch_bounds__(detail::kThreads, detail::kBlocksPerSm)
    divideKernel(device::Operands<typename Codec::Storage> p, device::Split split, int divisor) {
  using S = typename Codec::Storage;
  device::elementwise<false>(p, split, [divisor](S x, S) {
    return Codec::store(device::divideBy(Codec::load(x), divisor));
  });
}

/// Operands and split of a unary pass over `count` elements of S.
template <typename S>
std::pair<device::Operands<S>, device::Split> unaryPass(void* dst, const void* src, size_t count) {
  device::Operands<S> p{static_cast<S*>(dst), nullptr, static_cast<const S*>(src), nullptr, count};
  const void* ptrs[] = {src, dst};
  return {p, device::splitForVectors(sizeof(S), count, ptrs, 2)};
}

}  // namespace

void launchScale(DataType type, void* dst, const void* src, const void* scalar, size_t count,
                 cudaStream_t stream) {
  device::visitCodec(type, [&]<typename Codec>(Codec) {
    using S = typename Codec::Storage;
    S factor;
    std::memcpy(&factor, scalar, sizeof factor);  // the scalar may be unaligned
    if (count == 0) return;
    auto [p, split] = unaryPass<S>(dst, src, count);
    unsigned grid = detail::gridFor(device::splitWork(split, sizeof(S), count));
    scaleKernel<Codec><<<grid, detail::kThreads, 0, stream>>>(p, split, factor);
    detail::checkLaunch("scale kernel launch");
  });
}

void launchDivide(DataType type, void* dst, const void* src, int divisor, size_t count,
                  cudaStream_t stream) {
  // Zero is undefined for integers and INT_MIN / -1 overflows; Avg divides by a rank count.
  check(divisor > 0, ncclInvalidArgument, "divide: divisor must be positive");
  device::visitCodec(type, [&]<typename Codec>(Codec) {
    using S = typename Codec::Storage;
    if (count == 0) return;
    auto [p, split] = unaryPass<S>(dst, src, count);
    unsigned grid = detail::gridFor(device::splitWork(split, sizeof(S), count));
    divideKernel<Codec><<<grid, detail::kThreads, 0, stream>>>(p, split, divisor);
    detail::checkLaunch("divide kernel launch");
  });
}

}  // namespace prism::kernels
