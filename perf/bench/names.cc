#include "perf/bench/names.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "base/dtype.h"

namespace prism::bench {
namespace {

struct TypeName {
  const char* name;
  ncclDataType_t type;
};

// The first entry for each type is the printed name; the rest are accepted spellings.
constexpr std::array<TypeName, 32> kTypeNames{{
    {"int8", ncclInt8},
    {"uint8", ncclUint8},
    {"int32", ncclInt32},
    {"uint32", ncclUint32},
    {"int64", ncclInt64},
    {"uint64", ncclUint64},
    {"half", ncclFloat16},
    {"float", ncclFloat32},
    {"double", ncclFloat64},
    {"bfloat16", ncclBfloat16},
    {"f8e4m3", ncclFloat8e4m3},
    {"f8e5m2", ncclFloat8e5m2},
    {"char", ncclInt8},
    {"int", ncclInt32},
    {"float16", ncclFloat16},
    {"fp16", ncclFloat16},
    {"float32", ncclFloat32},
    {"fp32", ncclFloat32},
    {"float64", ncclFloat64},
    {"fp64", ncclFloat64},
    {"bf16", ncclBfloat16},
    {"float8e4m3", ncclFloat8e4m3},
    {"fp8e4m3", ncclFloat8e4m3},
    {"e4m3", ncclFloat8e4m3},
    {"float8e5m2", ncclFloat8e5m2},
    {"fp8e5m2", ncclFloat8e5m2},
    {"e5m2", ncclFloat8e5m2},
    {"i8", ncclInt8},
    {"u8", ncclUint8},
    {"i32", ncclInt32},
    {"i64", ncclInt64},
    {"u64", ncclUint64},
}};

constexpr std::array<const char*, 6> kOpNames{"sum", "prod", "max", "min", "avg", "mulsum"};

// Lower-cases and drops an "nccl" prefix so "ncclFloat32" and "float32" compare equal.
std::string normalize(std::string_view name) {
  std::string s(name);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s.size() > 4 && s.compare(0, 4, "nccl") == 0) s.erase(0, 4);
  return s;
}

}  // namespace

const char* dataTypeName(ncclDataType_t type) {
  int index = static_cast<int>(type);
  return index >= 0 && index < ncclNumTypes ? kTypeNames[index].name : "unknown";
}

size_t dataTypeSize(ncclDataType_t type) {
  return type >= 0 && type < kNumDataTypes ? prism::dataTypeSize(static_cast<DataType>(type)) : 0;
}

std::optional<ncclDataType_t> parseDataType(std::string_view name) {
  std::string key = normalize(name);
  for (const TypeName& entry : kTypeNames) {
    if (key == entry.name) return entry.type;
  }
  return std::nullopt;
}

/// A comma list of names, each parsed by `one`; empty when any name is unknown.
template <typename T, typename Parse>
std::optional<std::vector<T>> parseList(std::string_view spec, Parse one) {
  std::vector<T> out;
  while (true) {
    const size_t comma = spec.find(',');
    auto item = one(spec.substr(0, comma));
    if (!item) return std::nullopt;
    out.push_back(*item);
    if (comma == std::string_view::npos) return out;
    spec.remove_prefix(comma + 1);
  }
}

std::optional<std::vector<ncclDataType_t>> parseDataTypeList(std::string_view spec) {
  if (normalize(spec) == "all") {
    std::vector<ncclDataType_t> all;
    for (int t = 0; t < ncclNumTypes; ++t) all.push_back(static_cast<ncclDataType_t>(t));
    return all;
  }
  return parseList<ncclDataType_t>(spec, parseDataType);
}

const char* benchOpName(BenchOp op) { return kOpNames[static_cast<size_t>(op)]; }

std::optional<BenchOp> parseBenchOp(std::string_view name) {
  std::string key = normalize(name);
  if (key == "premulsum") key = "mulsum";
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    if (key == kOpNames[i]) return static_cast<BenchOp>(i);
  }
  return std::nullopt;
}

std::optional<std::vector<BenchOp>> parseBenchOpList(std::string_view spec) {
  if (normalize(spec) == "all") {
    std::vector<BenchOp> all;
    for (size_t i = 0; i < kOpNames.size(); ++i) all.push_back(static_cast<BenchOp>(i));
    return all;
  }
  return parseList<BenchOp>(spec, parseBenchOp);
}

ncclRedOp_t builtinRedOp(BenchOp op) {
  switch (op) {
    case BenchOp::Sum:
    case BenchOp::MulSum:
      return ncclSum;
    case BenchOp::Prod:
      return ncclProd;
    case BenchOp::Max:
      return ncclMax;
    case BenchOp::Min:
      return ncclMin;
    case BenchOp::Avg:
      return ncclAvg;
  }
  return ncclSum;
}

}  // namespace prism::bench
