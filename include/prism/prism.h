/// Prism's own C extensions beside the NCCL API.
#ifndef PRISM_PRISM_H_
#define PRISM_PRISM_H_

#include <stdint.h>
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

/** Binds this whole process to its CPUs, as mpirun binds a rank; call it before the process
    starts threads of its own, which then inherit the binding. The policy is the launcher's
    (docs/prism-run.md, "Binding ranks to cores"):
    - PRISM_CPU_LIST set (prism-run sets it): exactly those CPUs;
    - count == 0 (started by a launcher that passes no list): the CPUs it was started with;
    - else this process is local process `index` of `count`, each running `width` ranks,
      bound as PRISM_BIND_TO (core, numa or none) and PRISM_MAP_BY (core or numa) say. The
      default is core when count x width ranks fit the cores this process may use, else
      none; a process started on fewer CPUs than the machine allows (taskset, srun
      --cpu-bind, mpirun) keeps them unless PRISM_BIND_TO asks for a binding.
    The resulting CPUs are logged at INFO (INIT). A malformed variable is ncclInvalidUsage;
    a binding the system refuses is a WARN, and the process runs unbound. */
ncclResult_t prismBindProcess(int index, int count, int width);

/** Binds the calling thread as thread rank `index` of `count` within the CPUs it was started
    with (its process's binding), by the same PRISM_BIND_TO / PRISM_MAP_BY policy with one
    core per thread. Call it first thing in the thread, before it creates a communicator, so
    that the communicator's helper threads inherit the binding. */
ncclResult_t prismBindThread(int index, int count);

/** Bytes `comm` has moved through its transports' slots since it was created: every byte
    of a message that was copied into a slot to be sent or received into one, rather than
    moved zero-copy between buffers registered with ncclCommRegister or
    ncclCommWindowRegister (where the transport can do that: UCX between hosts). Messages
    whose bytes a reduction combines always arrive in a slot. Shared-memory peers of one
    host, whose registered buffers the direct path reads in place, are not counted here. */
ncclResult_t prismCommStagedBytes(ncclComm_t comm, uint64_t* bytes);

#ifdef __cplusplus
}
#endif

#endif  // PRISM_PRISM_H_
