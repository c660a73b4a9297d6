#include "algorithms/schedule_builder.h"

#include <string>

#include "core/error.h"

namespace prism::build {

Schedule makeSchedule(const ScheduleRequest& request, const char* algorithm, int inputBlocks,
                      int outputBlocks) {
  check(request.nranks >= 1, ncclInvalidArgument,
        std::string(algorithm) + ": nranks must be at least 1");
  check(request.root >= 0 && request.root < request.nranks, ncclInvalidArgument,
        std::string(algorithm) + ": root out of range");
  Schedule s;
  s.collective = request.collective;
  s.nranks = request.nranks;
  s.root = request.root;
  s.algorithm = algorithm;
  s.inputBlocks = inputBlocks;
  s.outputBlocks = outputBlocks;
  s.steps.resize(request.nranks);
  return s;
}

BlockCounts shareBlocks(Collective c, int nranks) {
  switch (c) {
    case Collective::AllGather:
    case Collective::Gather:
      return {1, nranks};
    case Collective::ReduceScatter:
    case Collective::Scatter:
      return {nranks, 1};
    case Collective::AllToAll:
      return {nranks, nranks};
    default:
      return {1, 1};
  }
}

void throwUnsupported(const char* algorithm, Collective c) {
  throw Error(ncclInvalidUsage,
              std::string(algorithm) + " does not implement " + collectiveName(c));
}

}  // namespace prism::build
