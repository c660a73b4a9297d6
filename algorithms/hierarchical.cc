// Topology-aware schedules composed from the flat ones over groups of ranks (e.g. hosts,
// from ScheduleRequest::groupOf). Nothing here computes peers: every stage is a ring
// schedule generated for a subgroup, with its ranks and blocks translated into the global
// schedule (build::appendSubSchedule). Groups are numbered in order of first appearance
// and a group's members keep rank order; "local index" is a rank's place in its group.
//
//  - AllReduce, groups of one size L (H groups): ReduceScatter inside each group, AllReduce
//    among the ranks of equal local index (one per group), AllGather inside each group.
//    Global block (j, h) = j*H + h: local rank j owns chunk j, which the inter-group ring
//    cuts into H blocks. Only 1/L of the data crosses between groups.
//  - AllReduce, unequal groups: Reduce to each group's first rank, AllReduce among those
//    leaders, Broadcast from them.
//  - AllGather, equal groups: AllGather among equal local indices, then inside each group
//    of the bundles of H shares. Unequal groups: one ring in group order.
//  - ReduceScatter and Reduce: one ring in group order (each group crossed once per hop
//    of the ring). A two-stage form would need a buffer for partial sums of other ranks'
//    shares, which these collectives do not have.
//  - Broadcast: among group leaders (the root leads its group), then inside each group.
#include <algorithm>
#include <vector>

#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"
#include "base/error.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "hierarchical";

struct Groups {
  std::vector<std::vector<int>> members;  ///< per group, its ranks in rank order
  std::vector<int> group;                 ///< per rank, its group's index
  std::vector<int> local;                 ///< per rank, its index within the group
  bool equalSizes() const {
    for (const auto& g : members) {
      if (g.size() != members[0].size()) return false;
    }
    return true;
  }
  /// Every rank, group after group: a ring over this order crosses between groups H times.
  std::vector<int> groupOrder() const {
    std::vector<int> order;
    for (const auto& g : members) order.insert(order.end(), g.begin(), g.end());
    return order;
  }
};

Groups groupsOf(const ScheduleRequest& req) {
  Groups g;
  std::vector<int> ids;
  for (int r = 0; r < req.nranks; ++r) {
    const int id = req.groupOf.empty() ? 0 : req.groupOf[r];
    auto it = std::find(ids.begin(), ids.end(), id);
    if (it == ids.end()) {
      ids.push_back(id);
      g.members.emplace_back();
      it = ids.end() - 1;
    }
    const int index = static_cast<int>(it - ids.begin());
    g.group.push_back(index);
    g.local.push_back(static_cast<int>(g.members[index].size()));
    g.members[index].push_back(r);
  }
  return g;
}

/// A single global block: the sub-schedule runs once.
std::vector<BlockRef> one(BlockRef ref) { return {ref}; }

/// Blocks first*count + h for h in [0, count) of `buffer`: one per copy of a sub-schedule.
std::vector<BlockRef> run(BufferId buffer, int first, int count) {
  std::vector<BlockRef> refs;
  for (int h = 0; h < count; ++h) refs.push_back({buffer, first * count + h});
  return refs;
}

/// ReduceScatter, AllGather or Reduce as one ring over the ranks in group order.
Schedule groupOrderedRing(const ScheduleRequest& req, const Groups& g) {
  const int n = req.nranks;
  std::vector<int> order = g.groupOrder();
  if (req.collective == Collective::Reduce || req.collective == Collective::Broadcast) {
    // Start at the root, so that the chain ends (Reduce) or starts (Broadcast) there.
    std::rotate(order.begin(), std::find(order.begin(), order.end(), req.root), order.end());
  }
  const BlockCounts counts = shareBlocks(req.collective, n);
  Schedule s = makeSchedule(req, kName, counts.input, counts.output);
  const Schedule ring = generateRing({req.collective, n, 0});
  // Share blocks name ranks: sub rank j's share is global rank order[j]'s.
  const bool shares =
      req.collective == Collective::AllGather || req.collective == Collective::ReduceScatter;
  auto mapper = [&](int, BlockRef ref) {
    const int blocks = ref.buffer == BufferId::Input ? counts.input : counts.output;
    return one({ref.buffer, shares && blocks == n ? order[ref.block] : ref.block});
  };
  appendSubSchedule(s, ring, order, mapper, true);
  return s;
}

Schedule allReduceEqual(const ScheduleRequest& req, const Groups& g) {
  const int groups = static_cast<int>(g.members.size());
  const int size = static_cast<int>(g.members[0].size());
  Schedule s = makeSchedule(req, kName, size * groups, size * groups);
  const Schedule scatter = generateRing({Collective::ReduceScatter, size, 0});
  const Schedule gather = generateRing({Collective::AllGather, size, 0});
  for (const auto& members : g.members) {
    appendSubSchedule(
        s, scatter, members,
        [&](int sub, BlockRef ref) {
          return ref.buffer == BufferId::Input ? run(BufferId::Input, ref.block, groups)
                                               : run(BufferId::Output, sub, groups);
        },
        groups == 1, groups);
  }
  if (groups > 1) {
    const Schedule across = generateRing({Collective::AllReduce, groups, 0});
    for (int j = 0; j < size; ++j) {
      std::vector<int> peers;
      for (const auto& members : g.members) peers.push_back(members[j]);
      appendSubSchedule(
          s, across, peers, [&](int, BlockRef ref) { return one(out(j * groups + ref.block)); },
          true);
    }
  }
  for (const auto& members : g.members) {
    appendSubSchedule(
        s, gather, members,
        [&](int sub, BlockRef ref) {
          return run(BufferId::Output, ref.buffer == BufferId::Input ? sub : ref.block, groups);
        },
        false, groups);
  }
  return s;
}

Schedule allReduceLeaders(const ScheduleRequest& req, const Groups& g) {
  const int groups = static_cast<int>(g.members.size());
  Schedule s = makeSchedule(req, kName, groups, groups);
  auto all = [&](int, BlockRef ref) { return run(ref.buffer, 0, groups); };
  for (const auto& members : g.members) {
    const int size = static_cast<int>(members.size());
    appendSubSchedule(s, generateRing({Collective::Reduce, size, 0}), members, all, groups == 1,
                      groups);
  }
  if (groups > 1) {
    std::vector<int> leaders;
    for (const auto& members : g.members) leaders.push_back(members[0]);
    appendSubSchedule(
        s, generateRing({Collective::AllReduce, groups, 0}), leaders,
        [](int, BlockRef ref) { return one(out(ref.block)); }, true);
  }
  for (const auto& members : g.members) {
    const int size = static_cast<int>(members.size());
    appendSubSchedule(
        s, generateRing({Collective::Broadcast, size, 0}), members,
        [&](int, BlockRef) { return run(BufferId::Output, 0, groups); }, false, groups);
  }
  return s;
}

Schedule allGatherEqual(const ScheduleRequest& req, const Groups& g) {
  const int n = req.nranks;
  const int groups = static_cast<int>(g.members.size());
  const int size = static_cast<int>(g.members[0].size());
  Schedule s = makeSchedule(req, kName, 1, n);
  const Schedule across = generateRing({Collective::AllGather, groups, 0});
  for (int j = 0; j < size; ++j) {
    std::vector<int> peers;
    for (const auto& members : g.members) peers.push_back(members[j]);
    appendSubSchedule(
        s, across, peers,
        [&](int, BlockRef ref) {
          return one(ref.buffer == BufferId::Input ? in(0) : out(peers[ref.block]));
        },
        false);
  }
  // The bundle of local index j: the shares of every group's j-th rank.
  auto bundle = [&](int j) {
    std::vector<BlockRef> refs;
    for (const auto& members : g.members) refs.push_back(out(members[j]));
    return refs;
  };
  const Schedule inside = generateRing({Collective::AllGather, size, 0});
  for (const auto& members : g.members) {
    appendSubSchedule(
        s, inside, members,
        [&](int sub, BlockRef ref) {
          return bundle(ref.buffer == BufferId::Input ? sub : ref.block);
        },
        false, groups);
  }
  return s;
}

Schedule broadcast(const ScheduleRequest& req, const Groups& g) {
  Schedule s = makeSchedule(req, kName, 1, 1);
  std::vector<int> leaders;
  for (const auto& members : g.members) {
    const bool hasRoot = std::find(members.begin(), members.end(), req.root) != members.end();
    leaders.push_back(hasRoot ? req.root : members[0]);
  }
  const int rootGroup = g.group[req.root];
  appendSubSchedule(
      s, generateRing({Collective::Broadcast, static_cast<int>(leaders.size()), rootGroup}),
      leaders, [](int, BlockRef ref) { return one(ref); }, false);
  for (size_t h = 0; h < g.members.size(); ++h) {
    const auto& members = g.members[h];
    const int leader = g.local[leaders[h]];
    // The leader broadcasts from what it holds: the root its input, the others their
    // output, filled by the first stage.
    auto mapper = [&](int sub, BlockRef ref) {
      const bool fromInput = ref.buffer == BufferId::Input && members[sub] == req.root;
      return one(fromInput ? in(0) : out(0));
    };
    appendSubSchedule(
        s, generateRing({Collective::Broadcast, static_cast<int>(members.size()), leader}), members,
        mapper, false);
  }
  return s;
}

}  // namespace

bool hierarchicalSupports(Collective c) {
  return c == Collective::AllReduce || c == Collective::AllGather ||
         c == Collective::ReduceScatter || c == Collective::Broadcast || c == Collective::Reduce;
}

bool hierarchicalApplies(const ScheduleRequest& req) {
  return req.groupOf.empty() || static_cast<int>(req.groupOf.size()) == req.nranks;
}

Schedule generateHierarchical(const ScheduleRequest& req) {
  check(hierarchicalApplies(req), ncclInvalidArgument,
        "hierarchical: groupOf must name a group for every rank");
  const Groups g = groupsOf(req);
  switch (req.collective) {
    case Collective::AllReduce:
      return g.equalSizes() ? allReduceEqual(req, g) : allReduceLeaders(req, g);
    case Collective::AllGather:
      return g.equalSizes() ? allGatherEqual(req, g) : groupOrderedRing(req, g);
    case Collective::ReduceScatter:
    case Collective::Reduce:
      return groupOrderedRing(req, g);
    case Collective::Broadcast:
      return broadcast(req, g);
    default:
      throwUnsupported(kName, req.collective);
  }
}

}  // namespace prism
