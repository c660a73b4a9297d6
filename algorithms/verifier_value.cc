#include "algorithms/verifier_value.h"

#include <bit>

namespace prism::verify {
namespace {
constexpr int kBits = 64;
size_t words(int nranks) { return static_cast<size_t>((nranks + kBits - 1) / kBits); }
}  // namespace

Value Value::single(int rank, int block, int nranks) {
  Value v;
  v.defined_ = true;
  v.block_ = block;
  v.ranks_.assign(words(nranks), 0);
  v.ranks_[rank / kBits] |= uint64_t{1} << (rank % kBits);
  return v;
}

Value Value::everyone(int block, int nranks) {
  Value v;
  v.defined_ = true;
  v.block_ = block;
  v.ranks_.assign(words(nranks), 0);
  for (int q = 0; q < nranks; ++q) v.ranks_[q / kBits] |= uint64_t{1} << (q % kBits);
  return v;
}

int Value::count() const {
  int c = 0;
  for (uint64_t w : ranks_) c += std::popcount(w);
  return c;
}

int Value::firstCommonRank(const Value& other) const {
  for (size_t i = 0; i < ranks_.size() && i < other.ranks_.size(); ++i) {
    const uint64_t common = ranks_[i] & other.ranks_[i];
    if (common != 0) return static_cast<int>(i) * kBits + std::countr_zero(common);
  }
  return -1;
}

void Value::unite(const Value& other) {
  for (size_t i = 0; i < ranks_.size() && i < other.ranks_.size(); ++i) {
    ranks_[i] |= other.ranks_[i];
  }
}

std::string Value::describe() const {
  if (!defined_) return "undefined";
  std::string text = "input block " + std::to_string(block_) + " of ranks {";
  const int limit = static_cast<int>(ranks_.size()) * kBits;
  auto has = [&](int q) { return q < limit && (ranks_[q / kBits] >> (q % kBits)) & 1; };
  bool first = true;
  for (int q = 0; q < limit; ++q) {
    if (!has(q)) continue;
    int end = q;
    while (has(end + 1)) ++end;
    text += (first ? "" : ",") + std::to_string(q);
    if (end > q) text += "-" + std::to_string(end);
    first = false;
    q = end;
  }
  text += "}";
  if (finalized_) text += " (finalized)";
  return text;
}

}  // namespace prism::verify
