// NCCL 2.28's device API (nccl_device.h): device communicators for user kernels that talk
// to peers themselves. Prism does not offer it yet; frameworks link these symbols and only
// call them when they ask for symmetric-memory kernels, so they fail cleanly.
#include "nccl.h"
#include "src/api/guard.h"
#include "src/api/handle.h"

struct ncclDevComm;
struct ncclDevCommRequirements;

using namespace prism;

extern "C" {

ncclResult_t ncclDevCommCreate(ncclComm_t comm, const ncclDevCommRequirements* reqs,
                               ncclDevComm* outDevComm) {
  return api::guard(comm, "ncclDevCommCreate", [&] {
    throw Error(ncclInvalidUsage, "the NCCL device API (ncclDevComm) is not supported by Prism");
  });
}

ncclResult_t ncclDevCommDestroy(ncclComm_t comm, const ncclDevComm* devComm) {
  return api::guard(comm, "ncclDevCommDestroy", [&] {
    throw Error(ncclInvalidUsage, "the NCCL device API (ncclDevComm) is not supported by Prism");
  });
}

}  // extern "C"

PRISM_PROFILING_ALIAS(ncclDevCommCreate);
PRISM_PROFILING_ALIAS(ncclDevCommDestroy);
