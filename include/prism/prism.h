/// Prism's own C extensions beside the NCCL API.
#ifndef PRISM_PRISM_H_
#define PRISM_PRISM_H_

#include <stdio.h>

#include "nccl.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Prism's release, e.g. "0.1.0" (ncclGetVersion reports the NCCL API level instead). */
const char* prismVersionString(void);

/** Writes every setting Prism reads: name, value, where the value came from, and what it
    does. Used by prism-bench --print-config. */
void prismPrintConfig(FILE* out);

/** For programs linked only against the C ABI of libprism.so (prism-bench): reads the
    launcher world (prism-run, mpirun, srun, torchrun). Without a recognized launcher it sets
    *rank = 0, *size = 1 and returns ncclSuccess. With one of size > 1 it also fills *id with
    the id every rank derives from the rendezvous. Errors come back as a result code with the
    reason in ncclGetLastError(NULL). */
ncclResult_t prismLaunchWorld(int* rank, int* size, ncclUniqueId* id);

#ifdef __cplusplus
}
#endif

#endif  // PRISM_PRISM_H_
