// Prism's own C extensions (include/prism/prism.h).
#include "base/config.h"
#include "prism/prism.h"

extern "C" {

const char* prismVersionString(void) { return PRISM_VERSION_STRING; }

void prismPrintConfig(FILE* out) {
  try {
    prism::config::printAll(out ? out : stdout);
  } catch (...) {
    // Printing settings must never take the caller down.
  }
}

}  // extern "C"
