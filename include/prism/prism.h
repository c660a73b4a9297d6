/// Prism's own C extensions beside the NCCL API.
#ifndef PRISM_PRISM_H_
#define PRISM_PRISM_H_

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Prism's release, e.g. "0.1.0" (ncclGetVersion reports the NCCL API level instead). */
const char* prismVersionString(void);

/** Writes every setting Prism reads: name, value, where the value came from, and what it
    does. Used by prism-bench --print-config. */
void prismPrintConfig(FILE* out);

#ifdef __cplusplus
}
#endif

#endif  // PRISM_PRISM_H_
