// The emulated fabric as data: which host each rank runs on, and the names and addresses
// prism-run gives namespaces and links. Pure functions, so the layout is testable without
// creating anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prism::run {

enum class Placement { Block, RoundRobin };

/// Where one rank runs: its host and its index among that host's ranks.
struct RankSlot {
  int host = 0;
  int localRank = 0;
  int localSize = 1;
};

/// Block: ranks 0..R-1 on host 0, R..2R-1 on host 1, ... Round-robin: rank r on host
/// r % hosts. Every host gets `ranksPerHost` ranks either way.
std::vector<RankSlot> placeRanks(int hosts, int ranksPerHost, Placement placement);

/// Names and addresses of one emulated fabric. `id` (its pid) makes them unique per prism-run
/// process (its pid); interface names stay within Linux's 15 characters.
struct FabricNames {
  std::string prefix;  ///< "prism-<tag>": every namespace name starts with it
  int subnet = 0;      ///< the x in 10.x.0.0/24
  std::string tag;     ///< the pid as text

  explicit FabricNames(long id);
  std::string hostNamespace(int host) const;  ///< prism-<tag>-h<host>
  std::string switchNamespace() const;        ///< prism-<tag>-sw
  std::string bridge() const;                 ///< pr<tag>br (in the switch namespace)
  std::string hostLink(int host) const;       ///< pr<tag>h<host> (in the host namespace)
  std::string switchLink(int host) const;     ///< pr<tag>s<host> (on the bridge)
  std::string hostAddress(int host) const;    ///< 10.x.0.<host+1>
  std::string innetAddress() const;           ///< 10.x.0.254 (on the bridge)
  std::string linkPrefix() const;             ///< pr<tag>: every interface name starts with it
};

inline constexpr int kMaxHosts = 253;

/// The emulated fabric as a Prism topology file (docs/topology-format.md): `hosts` hosts
/// with one NIC each at `bitsPerSecond`, one switch, and an aggregation point at
/// `innetEndpoint` when one runs. prism-run hands it to the ranks as PRISM_TOPO_FILE so the
/// cost model knows the shaped link rate (veth reports 10 Gbit/s whatever tc does); which
/// rank runs on which host the library still discovers itself.
std::string emulatedTopologyJson(int hosts, uint64_t bitsPerSecond, double delayMicros,
                                 const std::string& innetEndpoint);

/// Depth of the token bucket (tc tbf's burst) prism-run shapes a link of `bitsPerSecond`
/// with: at least a few GSO super-packets (64 KiB each, which veth hands to the qdisc whole)
/// and about 10 ms of traffic at the rate.
uint64_t tbfBurstBytes(uint64_t bitsPerSecond);

/// The cost profile (PRISM_TUNING_FILE, src/core/cost_profile.cc's format) prism-run gives
/// the ranks of an emulated fabric: the shaped links' burst, which lets a message of up to
/// that many bytes pass at veth speed (0: links not shaped by a token bucket), and the CPU
/// cores that all the emulated hosts share.
std::string emulatedProfileJson(uint64_t burstBytes, int sharedCores);

/// Parses "1gbit", "100mbit", "500kbit", "1gbps" (bytes), "2.5gbit" into bits per second.
/// Returns 0 when malformed.
uint64_t parseBitsPerSecond(const std::string& text);
/// Accepts "50us", "1ms", "0.5ms", "1s"; returns microseconds or a negative value when
/// malformed.
double parseDelayMicros(const std::string& text);

}  // namespace prism::run
