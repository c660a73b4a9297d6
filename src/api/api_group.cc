// ncclGroupStart / ncclGroupEnd / ncclGroupSimulateEnd.
#include "nccl.h"
#include "src/api/guard.h"
#include "src/api/validate.h"
#include "src/comm/group.h"

using namespace prism;
using namespace prism::api;

extern "C" {

ncclResult_t ncclGroupStart() {
  return guard(nullptr, "ncclGroupStart", [] { group::start(); });
}

ncclResult_t ncclGroupEnd() {
  return guard(nullptr, "ncclGroupEnd", [] { group::end(); });
}

ncclResult_t ncclGroupSimulateEnd(ncclSimInfo_t* simInfo) {
  return guard(nullptr, "ncclGroupSimulateEnd", [&] {
    checkOutPointer(simInfo, "simInfo");
    check(simInfo->magic == 0x74685283u, ncclInvalidArgument,
          "simInfo was not initialized with NCCL_SIM_INFO_INITIALIZER");
    simInfo->estimatedTime = group::simulateEnd();
  });
}

}  // extern "C"

PRISM_PROFILING_ALIAS(ncclGroupStart);
PRISM_PROFILING_ALIAS(ncclGroupEnd);
PRISM_PROFILING_ALIAS(ncclGroupSimulateEnd);
