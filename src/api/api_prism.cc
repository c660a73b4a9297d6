// Prism's own C extensions (include/prism/prism.h).
#include "base/config.h"
#include "prism/prism.h"
#include "src/api/guard.h"
#include "src/api/handle.h"
#include "src/api/validate.h"
#include "src/comm/communicator.h"

extern "C" {

const char* prismVersionString(void) { return PRISM_VERSION_STRING; }

void prismPrintConfig(FILE* out) {
  try {
    prism::config::printAll(out ? out : stdout);
  } catch (...) {
    // Printing settings must never take the caller down.
  }
}

ncclResult_t prismCommStagedBytes(ncclComm_t comm, uint64_t* bytes) {
  return prism::api::guard(comm, "prismCommStagedBytes", [&] {
    prism::api::checkOutPointer(bytes, "bytes");
    *bytes = prism::api::usableComm(comm).executor().stagedBytes();
  });
}

}  // extern "C"
