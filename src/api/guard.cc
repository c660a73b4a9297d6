#include "src/api/guard.h"

#include <mutex>
#include <string>

#include "base/log.h"
#include "src/api/handle.h"
#include "src/comm/group.h"

namespace prism::api {

namespace {
std::mutex gLastErrorMutex;
std::string gLastError;
thread_local std::string tReturned;  // storage behind the pointer ncclGetLastError returns
}  // namespace

void reportError(ncclComm* comm, const char* function, ncclResult_t code, const char* reason,
                 const char* where) {
  std::string message = std::string(function) + ": " + reason;
  log::warn("%s (%s, %s)", message.c_str(), ncclGetErrorString(code), where);
  if (comm) comm->setLastError(message);
  {
    std::lock_guard lock(gLastErrorMutex);
    gLastError = message;
  }
  group::recordError(code);
}

const char* lastErrorText(ncclComm* comm) {
  if (comm) {
    tReturned = comm->lastError();
  } else {
    std::lock_guard lock(gLastErrorMutex);
    tReturned = gLastError;
  }
  return tReturned.c_str();
}

}  // namespace prism::api
