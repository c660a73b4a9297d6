// The one kernel behind the three CUDA matrix products: out[rows, cols] from
// sum over l < len of lhs(r, l) * rhs(l, c), one thread per output element, summed for l
// ascending with correctly rounded multiplies and adds (__fmul_rn, __fadd_rn are never
// contracted into FMA), which is the order of tensor.cc's loops for every element. Tiles
// of lhs and rhs pass through shared memory; each thread still adds its own products one
// at a time in order, so tiling changes only where operands are read from.
#pragma once

#include <cstddef>

namespace prism::train::cuda {

/// How an element's sum meets the output: Zero stores the sum started from 0 (matmul),
/// FromOutput starts the sum from the output (matmul accumulate, matmulAt), AddSum sums
/// from 0 and then adds the sum to the output (matmulBt).
enum class Start { Zero, FromOutput, AddSum };

/// Element (r, l) of lhs is lhs[r * lhsRow + l * lhsReduce]; (l, c) of rhs is
/// rhs[l * rhsReduce + c * rhsCol]; out is row-major [rows, cols]. Plain data for the kernel.
struct OrderedProduct {
  const float* lhs;
  const float* rhs;
  float* out;
  int rows, cols, len;
  size_t lhsRow, lhsReduce, rhsReduce, rhsCol;
};

/// The products of tensor.h as ordered products (operand pointers filled in later).
inline OrderedProduct plainProduct(int m, int k, int n) {  // matmul
  return {nullptr, nullptr, nullptr, m, n, k, size_t(k), 1, size_t(n), 1};
}
inline OrderedProduct transposedRhsProduct(int m, int k, int n) {  // matmulBt
  return {nullptr, nullptr, nullptr, m, n, k, size_t(k), 1, 1, size_t(k)};
}
inline OrderedProduct transposedLhsProduct(int m, int k, int n) {  // matmulAt
  // Output rows are a's columns; the sum runs over a's rows.
  return {nullptr, nullptr, nullptr, k, n, m, 1, size_t(k), size_t(n), 1};
}

constexpr int kTile = 16;

template <Start start>
__global__ void orderedProductKernel(OrderedProduct p) {
  // +1: a column read of a transposed load hits distinct banks.
  __shared__ float lhsTile[kTile][kTile + 1];  // [row][l]
  __shared__ float rhsTile[kTile][kTile + 1];  // [l][col]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int rowBase = blockIdx.y * kTile, colBase = blockIdx.x * kTile;
  const int r = rowBase + ty, c = colBase + tx;
  const bool inside = r < p.rows && c < p.cols;
  // Loads run along whichever index is contiguous, so that a warp reads adjacent words.
  const bool lhsAlongRows = p.lhsRow == 1 && p.lhsReduce != 1;
  const bool rhsAlongLen = p.rhsReduce == 1 && p.rhsCol != 1;
  float acc = 0.0f;
  if (start == Start::FromOutput && inside) acc = p.out[static_cast<size_t>(r) * p.cols + c];
  for (int l0 = 0; l0 < p.len; l0 += kTile) {
    const int lr = rowBase + (lhsAlongRows ? tx : ty), ll = l0 + (lhsAlongRows ? ty : tx);
    const float lv = lr < p.rows && ll < p.len ? p.lhs[lr * p.lhsRow + ll * p.lhsReduce] : 0.0f;
    lhsTile[lr - rowBase][ll - l0] = lv;
    const int rl = l0 + (rhsAlongLen ? tx : ty), rc = colBase + (rhsAlongLen ? ty : tx);
    const float rv = rl < p.len && rc < p.cols ? p.rhs[rl * p.rhsReduce + rc * p.rhsCol] : 0.0f;
    rhsTile[rl - l0][rc - colBase] = rv;
    __syncthreads();
    // Only the real terms: adding a padding 0 * 0 would turn a -0 sum into +0.
    const int terms = min(kTile, p.len - l0);
    for (int q = 0; q < terms; ++q) acc = __fadd_rn(acc, __fmul_rn(lhsTile[ty][q], rhsTile[q][tx]));
    __syncthreads();
  }
  if (!inside) return;
  float& out = p.out[static_cast<size_t>(r) * p.cols + c];
  out = start == Start::AddSum ? __fadd_rn(out, acc) : acc;
}

}  // namespace prism::train::cuda
