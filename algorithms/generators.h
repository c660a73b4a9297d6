// Private: the generator entry points registry.cc lists. Each lives in its own file.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace prism {

Schedule generateRing(const ScheduleRequest& request);
bool ringSupports(Collective c);

Schedule generateRecursiveDoubling(const ScheduleRequest& request);
bool recursiveDoublingSupports(Collective c);

Schedule generateBinomialTree(const ScheduleRequest& request);
bool binomialTreeSupports(Collective c);

Schedule generatePairwise(const ScheduleRequest& request);
bool pairwiseSupports(Collective c);

Schedule generateDirect(const ScheduleRequest& request);
bool directSupports(Collective c);

Schedule generateDoubleBinaryTree(const ScheduleRequest& request);
bool doubleBinaryTreeSupports(Collective c);

Schedule generateRabenseifner(const ScheduleRequest& request);
bool rabenseifnerSupports(Collective c);

Schedule generateBruck(const ScheduleRequest& request);
bool bruckSupports(Collective c);

Schedule generatePat(const ScheduleRequest& request);
bool patSupports(Collective c);

Schedule generateMultiRing(const ScheduleRequest& request);
bool multiRingSupports(Collective c);

Schedule generateHierarchical(const ScheduleRequest& request);
bool hierarchicalSupports(Collective c);
/// False where the grouping in `request.groupOf` is one hierarchical cannot serve.
bool hierarchicalApplies(const ScheduleRequest& request);

/// In-network aggregation: the aggregation point is participant nranks (Schedule::
/// aggregators = 1). For the verifier and simulator; the executor cannot run it.
Schedule generateInNetwork(const ScheduleRequest& request);
bool inNetworkSupports(Collective c);

/// The double binary tree's peer math (double_binary_tree.cc), pure and exposed for tests.
/// Positions are 1..n in an in-order binary tree; trees are 0 and 1.
namespace dbt {
int rootPosition(int n);
/// Parent position of `position`, or 0 for the root.
int parentPosition(int position, int n);
std::vector<int> childPositions(int position, int n);
/// Where `rank` sits in `tree`. With root < 0 the AllReduce layout (tree 1 complements
/// tree 0); with a root, both trees are rooted at it (Broadcast).
int positionOf(int rank, int tree, int n, int root = -1);
int rankAt(int position, int tree, int n, int root = -1);
/// Parent rank of `rank` in `tree`, or -1 for the root.
int parent(int rank, int tree, int n, int root = -1);
std::vector<int> children(int rank, int tree, int n, int root = -1);
}  // namespace dbt

}  // namespace prism
