// The C boundary: every exported function runs its body through guard(), which turns any
// exception into an NCCL result code, keeps the reason for ncclGetLastError and logs it at
// WARN. Nothing thrown inside Prism crosses the C ABI.
#pragma once

#include <exception>
#include <new>

#include "base/error.h"
#include "nccl.h"

namespace prism::api {

/// Records a failure of `function`: per communicator (if any), process-wide, in the
/// group (if one is open), and in the WARN log.
void reportError(ncclComm* comm, const char* function, ncclResult_t code, const char* reason,
                 const char* where);

/// The process-wide last error (ncclGetLastError(NULL)).
const char* lastErrorText(ncclComm* comm);

template <class Body>
ncclResult_t guard(ncclComm* comm, const char* function, Body&& body) noexcept {
  try {
    body();
    return ncclSuccess;
  } catch (const Error& e) {
    reportError(comm, function, e.code(), e.what(), e.where().c_str());
    return e.code();
  } catch (const std::bad_alloc&) {
    reportError(comm, function, ncclSystemError, "out of memory", "");
    return ncclSystemError;
  } catch (const std::exception& e) {
    reportError(comm, function, ncclInternalError, e.what(), "");
    return ncclInternalError;
  } catch (...) {
    reportError(comm, function, ncclInternalError, "unknown internal error", "");
    return ncclInternalError;
  }
}

}  // namespace prism::api

/// Defines NCCL's profiling name pncclX as an alias of ncclX (same translation unit).
#define PRISM_PROFILING_ALIAS(name) \
  extern "C" decltype(name) p##name __attribute__((alias(#name), visibility("default")))
