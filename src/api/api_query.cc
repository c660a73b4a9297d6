// Version, unique id, errors and communicator queries.
#include "base/log.h"
#include "nccl.h"
#include "src/api/guard.h"
#include "src/api/handle.h"
#include "src/api/validate.h"
#include "src/bootstrap/bootstrap.h"

using namespace prism;
using namespace prism::api;

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  return guard(nullptr, "ncclGetVersion", [&] {
    checkOutPointer(version, "version");
    *version = NCCL_VERSION_CODE;
  });
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  return guard(nullptr, "ncclGetUniqueId", [&] {
    checkOutPointer(uniqueId, "uniqueId");
    createUniqueId(uniqueId);
  });
}

const char* ncclGetErrorString(ncclResult_t code) {
  // Any integer may arrive here; it is read as one, never loaded as the enum.
  const int result = api::rawEnum(code);
  switch (result) {
    case ncclSuccess:
      return "no error";
    case ncclUnhandledCudaError:
      return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError:
      return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError:
      return "internal error - please report this issue to the Prism developers";
    case ncclInvalidArgument:
      return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage:
      return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError:
      return "remote process exited or there was a network error";
    case ncclInProgress:
      return "NCCL operation in progress";
    default:
      return "unknown result code";
  }
}

const char* ncclGetLastError(ncclComm_t comm) { return lastErrorText(comm); }

void ncclResetDebugInit() { log::reset(); }

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
  return guard(comm, "ncclCommGetAsyncError", [&] {
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    checkOutPointer(asyncError, "asyncError");
    *asyncError = comm->impl ? comm->impl->asyncError() : comm->initResult;
  });
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  return guard(comm, "ncclCommCount", [&] {
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    checkOutPointer(count, "count");
    *count = comm->nranks;
  });
}

ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  return guard(comm, "ncclCommCuDevice", [&] {
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    checkOutPointer(device, "device");
    *device = comm->cudaDevice;
  });
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  return guard(comm, "ncclCommUserRank", [&] {
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    checkOutPointer(rank, "rank");
    *rank = comm->rank;
  });
}

}  // extern "C"

PRISM_PROFILING_ALIAS(ncclGetVersion);
PRISM_PROFILING_ALIAS(ncclGetUniqueId);
PRISM_PROFILING_ALIAS(ncclGetErrorString);
PRISM_PROFILING_ALIAS(ncclGetLastError);
PRISM_PROFILING_ALIAS(ncclResetDebugInit);
PRISM_PROFILING_ALIAS(ncclCommGetAsyncError);
PRISM_PROFILING_ALIAS(ncclCommCount);
PRISM_PROFILING_ALIAS(ncclCommCuDevice);
PRISM_PROFILING_ALIAS(ncclCommUserRank);
