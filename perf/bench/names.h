// The vocabulary of prism-bench's command line: element types and reduction operators,
// with nccl-tests' spellings for printing and a forgiving parser for input.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "nccl.h"

namespace prism::bench {

/// A reduction as chosen on the command line. MulSum is nccl-tests' "mulsum": a sum in
/// which every rank first scales its input by a scalar (ncclRedOpCreatePreMulSum).
enum class BenchOp { Sum, Prod, Max, Min, Avg, MulSum };

/// nccl-tests' short name: int8, uint8, int32, uint32, int64, uint64, half, float,
/// double, bfloat16, f8e4m3, f8e5m2.
const char* dataTypeName(ncclDataType_t type);
/// Bytes per element.
size_t dataTypeSize(ncclDataType_t type);
/// Accepts the short names, NCCL's names with or without the "nccl" prefix (float32,
/// ncclFloat16, char, int, ...) and common aliases (fp16, bf16, fp8e4m3), any case.
std::optional<ncclDataType_t> parseDataType(std::string_view name);
/// One name, a comma list of names, or "all" for the 12 types in enum order.
std::optional<std::vector<ncclDataType_t>> parseDataTypeList(std::string_view spec);

/// sum, prod, max, min, avg or mulsum.
const char* benchOpName(BenchOp op);
/// One of the names above in any case, or NCCL's (ncclSum, premulsum).
std::optional<BenchOp> parseBenchOp(std::string_view name);
/// One name, a comma list of names, or "all" for every operator.
std::optional<std::vector<BenchOp>> parseBenchOpList(std::string_view spec);
/// The built-in NCCL operator; MulSum has none (it is created per communicator).
ncclRedOp_t builtinRedOp(BenchOp op);

}  // namespace prism::bench
