// RankInfo: one rank's self-description, encoded in a fixed-size record for the all-gather
// at communicator init.
#include <cstring>

#include "base/error.h"
#include "topology/discover.h"
#include "topology/routing.h"
#include "topology/system.h"

namespace prism::topo {

namespace {

constexpr uint32_t kMagic = 0x50525450;  // "PRTP"
constexpr uint32_t kVersion = 1;
// magic, version, numa, gpu, nic, host length (u32 each), nicBandwidth (u64 bits).
constexpr size_t kHeaderBytes = 6 * 4 + 8;
constexpr size_t kMaxHostBytes = kRankInfoBytes - kHeaderBytes;

void putU32(std::byte* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<std::byte>(v >> (8 * i));
}
void putU64(std::byte* at, uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<std::byte>(v >> (8 * i));
}
uint32_t getU32(const std::byte* at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(at[i]) << (8 * i);
  return v;
}
uint64_t getU64(const std::byte* at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(at[i]) << (8 * i);
  return v;
}

}  // namespace

std::array<std::byte, kRankInfoBytes> encodeRank(const RankInfo& info) {
  if (info.host.size() > kMaxHostBytes) {
    throw Error(ncclInvalidArgument, "host identity longer than " + std::to_string(kMaxHostBytes) +
                                         " bytes: " + info.host);
  }
  std::array<std::byte, kRankInfoBytes> out{};
  putU32(&out[0], kMagic);
  putU32(&out[4], kVersion);
  putU32(&out[8], static_cast<uint32_t>(info.numa));
  putU32(&out[12], static_cast<uint32_t>(info.gpu));
  putU32(&out[16], static_cast<uint32_t>(info.nic));
  putU32(&out[20], static_cast<uint32_t>(info.host.size()));
  uint64_t bits;
  std::memcpy(&bits, &info.nicBandwidth, sizeof(bits));
  putU64(&out[24], bits);
  std::memcpy(&out[kHeaderBytes], info.host.data(), info.host.size());
  return out;
}

RankInfo decodeRank(const std::byte* data, size_t size) {
  if (size != kRankInfoBytes || getU32(data) != kMagic || getU32(data + 4) != kVersion ||
      getU32(data + 20) > kMaxHostBytes) {
    throw Error(ncclInternalError, "corrupt rank topology record");
  }
  RankInfo info;
  info.numa = static_cast<int32_t>(getU32(data + 8));
  info.gpu = static_cast<int32_t>(getU32(data + 12));
  info.nic = static_cast<int32_t>(getU32(data + 16));
  const uint64_t bits = getU64(data + 24);
  std::memcpy(&info.nicBandwidth, &bits, sizeof(bits));
  info.host.assign(reinterpret_cast<const char*>(data + kHeaderBytes), getU32(data + 20));
  return info;
}

RankInfo describeLocalRank(const Graph& local, int gpu) {
  RankInfo info;
  const std::vector<int> hosts = local.nodesOf(NodeKind::Host);
  info.host = !hosts.empty() && !local.nodes[hosts[0]].address.empty()
                  ? local.nodes[hosts[0]].address
                  : hostIdentity();
  info.numa = currentNumaNode();
  info.gpu = gpu;
  int from = -1;
  for (int id : local.nodesOf(NodeKind::Gpu)) {
    if (local.nodes[id].index == gpu) from = id;
  }
  for (int id : local.nodesOf(NodeKind::Numa)) {
    if (from < 0 && local.nodes[id].index == info.numa) from = id;
  }
  const auto incidence = local.incidence();
  double bestLatency = 1e300;
  for (int id : local.nodesOf(NodeKind::Nic)) {
    const auto route = from >= 0 ? shortestRoute(local, incidence, from, id) : std::nullopt;
    const double latency = route ? route->latency : 1e299;
    if (latency < bestLatency) {
      bestLatency = latency;
      info.nic = local.nodes[id].index;
      info.nicBandwidth = local.nodes[id].bandwidth;
    }
  }
  return info;
}

}  // namespace prism::topo
