// Rank, world size and rendezvous from whatever started this process: prism-run, Open MPI's
// mpirun, MPICH/PMI, Slurm's srun or torchrun. launch_env.cc is the one place that reads
// these launcher variables (they are not Prism settings, so they are not in src/config).
//
// Rendezvous rule, in order:
//   1. PRISM_RENDEZVOUS=host:port (prism-run always sets it);
//   2. MASTER_ADDR and MASTER_PORT (torchrun sets them; usable with any launcher);
//   3. a single-host run (local size == world size): 127.0.0.1 and a port in
//      [kDefaultPortBase, kDefaultPortBase + kDefaultPortSpan) hashed from the job id;
//   4. otherwise CommError(ncclInvalidUsage) naming the variables to set.
// The job id is PRISM_JOB_SECRET, else the launcher's job variables (OMPI_MCA_ess_base_jobid,
// PMIX_NAMESPACE, PMI_JOBID, SLURM_JOB_ID + SLURM_STEP_ID, TORCHELASTIC_RUN_ID), else, for a
// single-host run only, the parent process id (all ranks share the launcher's daemon).
#pragma once

#include <optional>
#include <string>

#include "nccl.h"
#include "prism/comm.hpp"

namespace prism {

/// Builds the communicator id every rank of the launch agrees on without exchanging
/// anything: the root address is info.rendezvous and the secret is derived from
/// PRISM_JOB_SECRET (prism-run sets a random one) or, failing that, from the job id
/// variables. Rank 0 starts the bootstrap root listening on the rendezvous port; the other
/// ranks' ncclCommInitRank retries connecting until PRISM_BOOTSTRAP_TIMEOUT_S. Call it once
/// per launch (a second root cannot bind the same port while the first one serves).
/// Throws CommError.
void uniqueIdFromRendezvous(const LaunchInfo& info, ncclUniqueId* id);

namespace launch {

inline constexpr int kDefaultPortBase = 20000;
inline constexpr int kDefaultPortSpan = 30000;

/// launchInfoFromEnvironment, but nullopt instead of an error when no launcher's rank
/// variable is set at all (incomplete or inconsistent variables still throw).
std::optional<LaunchInfo> findLauncher();

/// The text the communicator secret is derived from: "secret:" + PRISM_JOB_SECRET, else
/// "secret:" + the first line of the file PRISM_JOB_SECRET_FILE names (a file the job's
/// processes share and nobody else can read), else "job:" + the launcher's job-id
/// variables, else "rendezvous:" + the rendezvous. The last two are public values: anyone
/// who can reach the rendezvous could join, so the first such key of a process is
/// reported once with log::alert (weakKeyWarning). Throws CommError(ncclInvalidUsage)
/// for a secret file that cannot be read or is empty.
std::string jobKey(const LaunchInfo& info);

/// The warning for a key derived from public values ("" for a real secret): what is
/// exposed and how to give the job a secret.
std::string weakKeyWarning(const std::string& key);

/// Splits "host:port" or "[v6addr]:port"; throws CommError(ncclInvalidUsage) naming `what`
/// when malformed or the port is outside 1..65535.
void splitHostPort(const std::string& text, const std::string& what, std::string* host, int* port);

}  // namespace launch
}  // namespace prism
