// Private: the generator entry points registry.cc lists. Each lives in its own file.
#pragma once

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

}  // namespace prism
