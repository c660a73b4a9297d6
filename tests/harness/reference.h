// Deterministic test inputs and an independent reference for every collective.
//
// Element i of rank r's send buffer is a pure function of (seed, rank, index, dtype, op),
// so any rank can recompute any other rank's input, and the reference needs no data from
// the library. Inputs for reductions are chosen so that every partial result is exactly
// representable in the element type whatever order the library reduces in (up to 8 ranks):
//   floats  Sum/Avg/PreMulSum: {-2..2} ({-1,0,1} for e5m2); Prod: {0,-1,1} plus at most three
//           2s per element across ranks; Max/Min: any finite value.
//   signed  Sum/Avg/PreMulSum: |x| <= 2^(bits-6) (no overflow); Prod as floats; Max/Min: any.
//   unsigned Sum/PreMulSum: any (results wrap modulo 2^bits); Avg: x < 2^(bits-5);
//           Prod: {0,1,2}; Max/Min: any.
// Data movement inputs are arbitrary bit patterns, compared bit for bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "nccl.h"

namespace prism::test {

enum class RefOp { Sum, Prod, Max, Min, Avg, PreMulSum };

inline constexpr std::array<RefOp, 6> kAllOps = {RefOp::Sum, RefOp::Prod, RefOp::Max,
                                                 RefOp::Min, RefOp::Avg,  RefOp::PreMulSum};

const char* refOpName(RefOp op);
/// The built-in ncclRedOp_t; PreMulSum has none (the caller creates it).
ncclRedOp_t builtinOp(RefOp op);

struct InputSpec {
  ncclDataType_t dtype = ncclFloat32;
  /// The reduction the input feeds; nullopt for data movement (arbitrary bits).
  std::optional<RefOp> op;
  uint64_t seed = 1;
  /// PreMulSum's scalar, the same on every rank. Must be an exact small integer.
  int scalar = 2;
};

/// Writes elements [first, first + count) of `rank`'s input to `out` (count elements).
void generateInput(const InputSpec& spec, int rank, size_t first, size_t count, void* out);

/// Bytes per element of the expected buffer: the element size, or 8 for Avg over floats
/// (the exact quotient is kept as a double).
size_t expectedElementBytes(const InputSpec& spec);

/// out[k] = reduction over ranks 0..nranks-1 of input element (first + k), k < count.
void referenceReduce(const InputSpec& spec, int nranks, size_t first, size_t count, void* out);

/// The same reduction, reading rank r's input from inputs[r] (as generateInput wrote it,
/// from element 0) instead of generating it again.
void referenceReduceInputs(const InputSpec& spec, int nranks, const void* const* inputs,
                           size_t first, size_t count, void* out);

/// Which value pattern the input of `spec` draws from. Specs with the same dtype, seed and
/// pattern have identical inputs (for example Sum, Avg and PreMulSum over floats).
int inputPattern(const InputSpec& spec);

/// Compares `count` reduced elements with `expected` (from referenceReduce). Exact, except
/// Avg over floats: within one unit in the last place of the rounded quotient; +0 and -0
/// are equal. Returns "" on a match, otherwise the number of mismatches and the first few
/// as "[index] expected E got A"; printed indices start at `indexBase`.
std::string compareReduced(const InputSpec& spec, const void* expected, const void* actual,
                           size_t count, size_t indexBase);

/// Compares `count` elements of `actual` with elements [first, first + count) of
/// `srcRank`'s input, bit for bit.
std::string compareMoved(const InputSpec& spec, int srcRank, size_t first, const void* actual,
                         size_t count, size_t indexBase);

/// Returns "" if `bytes` bytes at `p` all equal `value`, otherwise where they first differ.
std::string checkUntouched(const void* p, size_t bytes, unsigned char value, const char* what);

/// `value` encoded in `dtype` (for PreMulSum scalars); writes dtypeSize(dtype) bytes.
void encodeScalar(ncclDataType_t dtype, double value, void* out);

}  // namespace prism::test
