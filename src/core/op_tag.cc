#include "src/core/op_tag.h"

namespace prism {

namespace {

constexpr uint64_t kSeqBits = 16;
constexpr uint64_t kRootBits = 12;
constexpr uint64_t kCountBits = 24;

uint64_t fold(uint64_t value, uint64_t bits) {
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  uint64_t folded = 0;
  for (; value != 0; value >>= bits) folded ^= value & mask;
  return folded;
}

const char* reductionName(uint8_t r) {
  static const char* const kNames[] = {"sum", "prod", "max", "min", "avg", "premulsum"};
  return r < 6 ? kNames[r] : "unknown op";
}

const char* kindName(uint8_t kind) {
  if (kind < kNumCollectives) return collectiveName(static_cast<Collective>(kind));
  if (kind == kPointToPointKind) return "point-to-point message";
  if (kind == kAbandonedKind) return "notice that it gave up on operation";
  return "unknown operation";
}

bool rooted(uint8_t kind) {
  return kind < kNumCollectives && isRooted(static_cast<Collective>(kind));
}

bool reduces(uint8_t kind) {
  return kind < kNumCollectives && isReduction(static_cast<Collective>(kind));
}

std::string describeFields(uint8_t kind, uint64_t seq, uint64_t count, uint8_t type,
                           uint8_t reduction, uint64_t root) {
  std::string s = std::string(kindName(kind)) + " #" + std::to_string(seq);
  if (kind == kAbandonedKind) return s;
  s += " (count " + std::to_string(count) + ", ";
  s += type < kNumDataTypes ? dataTypeName(static_cast<DataType>(type)) : "unknown type";
  if (reduces(kind)) s += std::string(", ") + reductionName(reduction);
  if (rooted(kind)) s += ", root " + std::to_string(root);
  return s + ")";
}

}  // namespace

OpFingerprint fingerprintOf(const Operation& op, uint64_t seq) {
  OpFingerprint f;
  f.seq = seq;
  f.type = op.type;
  f.count = op.count;
  if (op.kind != OperationKind::Collective) {
    f.kind = kPointToPointKind;
    return f;
  }
  f.kind = static_cast<uint8_t>(op.collective);
  if (isReduction(op.collective)) {
    const Reduction& r = op.reduction;
    f.reduction = r.preMultiply ? 5 : r.average ? 4 : static_cast<uint8_t>(r.op);
  }
  if (rooted(f.kind)) f.root = op.root;
  return f;
}

uint64_t tagOf(const OpFingerprint& f) {
  return (f.seq & ((uint64_t{1} << kSeqBits) - 1)) | uint64_t{f.kind & 0xfu} << 16 |
         uint64_t{static_cast<uint8_t>(f.type) & 0xfu} << 20 | uint64_t{f.reduction & 0xfu} << 24 |
         fold(static_cast<uint32_t>(f.root), kRootBits) << 28 | fold(f.count, kCountBits) << 40;
}

std::string describe(const OpFingerprint& f) {
  return describeFields(f.kind, f.seq, f.count, static_cast<uint8_t>(f.type), f.reduction,
                        static_cast<uint64_t>(f.root));
}

std::string describeTag(uint64_t tag, uint64_t near) {
  // The peer's number is the one nearest to the receiver's with the same low 16 bits.
  const auto delta = static_cast<int16_t>(static_cast<uint16_t>(tag) - static_cast<uint16_t>(near));
  const uint64_t seq = near + static_cast<uint64_t>(static_cast<int64_t>(delta));
  return describeFields(tagKind(tag), seq, tag >> 40, static_cast<uint8_t>((tag >> 20) & 0xf),
                        static_cast<uint8_t>((tag >> 24) & 0xf), (tag >> 28) & 0xfff);
}

}  // namespace prism
