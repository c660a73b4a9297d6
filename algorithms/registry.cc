#include "algorithms/registry.h"

#include <array>
#include <cctype>

#include "algorithms/generators.h"
#include "base/text.h"

namespace prism {
namespace {

// The selector keeps the first of equally fast algorithms, so the order breaks ties:
// "direct" precedes "tree", whose Gather and Scatter the model rates equal to direct's on
// shared memory (the root receives or sends every share either way) while they relay
// through scratch.
constexpr std::array<AlgorithmInfo, 11> kAlgorithms = {{
    {"ring", generateRing, ringSupports, nullptr},
    {"recursive_doubling", generateRecursiveDoubling, recursiveDoublingSupports, nullptr},
    {"direct", generateDirect, directSupports, nullptr},
    {"tree", generateBinomialTree, binomialTreeSupports, nullptr},
    {"pairwise", generatePairwise, pairwiseSupports, nullptr},
    {"double_binary_tree", generateDoubleBinaryTree, doubleBinaryTreeSupports, nullptr, 2},
    {"rabenseifner", generateRabenseifner, rabenseifnerSupports, nullptr},
    {"bruck", generateBruck, bruckSupports, nullptr},
    {"pat", generatePat, patSupports, nullptr},
    {"multi_ring", generateMultiRing, multiRingSupports, nullptr, 2},
    {"hierarchical", generateHierarchical, hierarchicalSupports, hierarchicalApplies},
}};

}  // namespace

std::span<const AlgorithmInfo> allAlgorithms() { return kAlgorithms; }

const AlgorithmInfo* findAlgorithm(std::string_view name) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (equalsIgnoreCase(info.name, name)) return &info;
  }
  return nullptr;
}

}  // namespace prism
