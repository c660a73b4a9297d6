#include "perf/bench/collectives.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace prism::bench {
namespace {

struct CollectiveFacts {
  const char* name;
  bool redOp;
  bool root;
};

// Indexed by Collective.
constexpr std::array<CollectiveFacts, 9> kFacts{{
    {"allreduce", true, false},
    {"broadcast", false, true},
    {"reduce", true, true},
    {"allgather", false, false},
    {"reducescatter", true, false},
    {"alltoall", false, false},
    {"gather", false, true},
    {"scatter", false, true},
    {"sendrecv", false, false},
}};
static_assert(kFacts.size() == static_cast<size_t>(Collective::SendRecv) + 1);

const CollectiveFacts& facts(Collective c) { return kFacts[static_cast<size_t>(c)]; }

}  // namespace

const char* cliName(Collective c) { return facts(c).name; }

std::optional<Collective> parseCollective(std::string_view name) {
  std::string key;
  for (char ch : name) {
    if (ch != '_' && ch != '-')
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  constexpr std::string_view kSuffix = "perf";
  if (key.size() > kSuffix.size() && key.ends_with(kSuffix))
    key.resize(key.size() - kSuffix.size());
  for (size_t i = 0; i < kFacts.size(); ++i) {
    if (key == kFacts[i].name) return static_cast<Collective>(i);
  }
  return std::nullopt;
}

const char* collectiveNameList() {
  return "allreduce, allgather, reducescatter, broadcast, reduce, alltoall, gather, scatter, "
         "sendrecv";
}

bool usesRedOp(Collective c) { return facts(c).redOp; }

bool usesRoot(Collective c) { return facts(c).root; }

Layout layoutFor(Collective c, size_t bytes, size_t typeSize, int nranks, int rank) {
  const auto n = static_cast<size_t>(nranks);
  const auto r = static_cast<size_t>(rank);
  Layout l;
  switch (c) {
    case Collective::AllGather:
    case Collective::Gather:
      l.count = bytes / (typeSize * n);
      l.sendCount = l.count;
      l.recvCount = l.count * n;
      l.inPlaceSendOffset = r * l.count;
      break;
    case Collective::ReduceScatter:
    case Collective::Scatter:
      l.count = bytes / (typeSize * n);
      l.sendCount = l.count * n;
      l.recvCount = l.count;
      l.inPlaceRecvOffset = r * l.count;
      break;
    case Collective::AllToAll:
      l.count = bytes / (typeSize * n);
      l.sendCount = l.count * n;
      l.recvCount = l.count * n;
      break;
    case Collective::AllReduce:
    case Collective::Broadcast:
    case Collective::Reduce:
    case Collective::SendRecv:
      l.count = bytes / typeSize;
      l.sendCount = l.count;
      l.recvCount = l.count;
      break;
  }
  l.reportedBytes = std::max(l.sendCount, l.recvCount) * typeSize;
  return l;
}

}  // namespace prism::bench
