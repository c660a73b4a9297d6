#include "src/launch/launch_env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/log.h"
#include "base/siphash.h"

namespace prism {
namespace {

// What each launcher calls rank, world size, local rank and local size. A launcher is
// recognized by its rank variable. Slurm's local size has no single variable (below).
struct LauncherVars {
  const char* source;
  const char* rank;
  const char* size;
  const char* localRank;
  const char* localSize;  // nullptr: derived by slurmLocalSize()
};

constexpr LauncherVars kLaunchers[] = {
    {"prism-run", "PRISM_RANK", "PRISM_NRANKS", "PRISM_LOCAL_RANK", "PRISM_LOCAL_SIZE"},
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", nullptr},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
};

// Rendezvous, secret and job-id variables (see launch_env.h for the rule).
constexpr const char* kRendezvousVar = "PRISM_RENDEZVOUS";
constexpr const char* kMasterAddrVar = "MASTER_ADDR";
constexpr const char* kMasterPortVar = "MASTER_PORT";
constexpr const char* kJobSecretVar = "PRISM_JOB_SECRET";
constexpr const char* kJobSecretFileVar = "PRISM_JOB_SECRET_FILE";
constexpr const char* kJobIdVars[] = {
    "OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE",     "PMI_JOBID", "SLURM_JOB_ID",
    "SLURM_STEP_ID",           "TORCHELASTIC_RUN_ID"};
// Slurm: tasks on each node ("2(x3),1", indexed by SLURM_NODEID), or a uniform count.
constexpr const char* kSlurmTasksPerNodeVars[] = {"SLURM_STEP_TASKS_PER_NODE",
                                                  "SLURM_TASKS_PER_NODE"};
constexpr const char* kSlurmNodeIdVar = "SLURM_NODEID";
constexpr const char* kSlurmNtasksPerNodeVar = "SLURM_NTASKS_PER_NODE";
constexpr const char* kSlurmNodeCountVars[] = {"SLURM_STEP_NUM_NODES", "SLURM_NNODES"};
constexpr const char* kSlurmNodeListVar = "SLURM_STEP_NODELIST";

/// The first line of the job's secret file, which must exist, be non-empty and not be
/// readable by other users.
std::string secretFromFile(const std::string& path) {
  std::ifstream in(path);
  std::string secret;
  if (!in || !std::getline(in, secret) || secret.empty()) {
    throw CommError(ncclInvalidUsage, std::string(kJobSecretFileVar) + "=" + path +
                                          ": cannot read a secret from it (a non-empty line)");
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    log::alert(
        "launch: %s=%s is readable by other users; the job's secret is only as "
        "private as that file (chmod 600)",
        kJobSecretFileVar, path.c_str());
  }
  return secret;
}

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);  // launcher variables, not Prism settings
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

[[noreturn]] void usageError(const std::string& reason) {
  throw CommError(ncclInvalidUsage, reason);
}

std::optional<int> parseInt(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

int intVar(const char* name, const char* source) {
  auto text = env(name);
  if (!text) usageError(std::string(source) + " launch: " + name + " is not set");
  auto value = parseInt(*text);
  if (!value)
    usageError(std::string(source) + " launch: " + name + "=" + *text + " is not an integer");
  return *value;
}

// This node's task count from "2(x3),1"-style lists, or nullopt when not derivable.
std::optional<int> slurmTasksOnNode(const std::string& list, int node) {
  int first = 0;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string item = list.substr(pos, comma == std::string::npos ? comma : comma - pos);
    int repeat = 1;
    size_t paren = item.find("(x");
    if (paren != std::string::npos && item.back() == ')') {
      auto r = parseInt(std::string_view(item).substr(paren + 2, item.size() - paren - 3));
      if (!r || *r < 1) return std::nullopt;
      repeat = *r;
      item.resize(paren);
    }
    auto tasks = parseInt(item);
    if (!tasks) return std::nullopt;
    if (node < first + repeat) return tasks;
    first += repeat;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return std::nullopt;
}

std::optional<int> slurmNodeCount() {
  for (const char* name : kSlurmNodeCountVars) {
    if (auto text = env(name)) return parseInt(*text);
  }
  if (auto list = env(kSlurmNodeListVar)) {
    if (list->find_first_of(",[") == std::string::npos) return 1;
  }
  return std::nullopt;
}

std::optional<int> slurmLocalSize(int size) {
  if (slurmNodeCount() == 1) return size;
  int node = 0;
  if (auto id = env(kSlurmNodeIdVar)) node = parseInt(*id).value_or(-1);
  for (const char* name : kSlurmTasksPerNodeVars) {
    if (auto list = env(name); list && node >= 0) {
      if (auto tasks = slurmTasksOnNode(*list, node)) return tasks;
    }
  }
  if (auto text = env(kSlurmNtasksPerNodeVar)) return parseInt(*text);
  return std::nullopt;
}

std::string jobIdText() {
  std::string text;
  for (const char* name : kJobIdVars) {
    if (auto value = env(name)) text += std::string(name) + "=" + *value + ";";
  }
  return text;
}

uint64_t hashText(const std::string& text, uint8_t salt) {
  uint8_t key[kSipKeyBytes] = {'p', 'r', 'i', 's', 'm', '-', 'l', 'a',
                               'u', 'n', 'c', 'h', 0,   0,   0,   salt};
  return sipHash24(key, text.data(), text.size());
}

// The rendezvous when none is set: only a single-host run can guess one.
std::string defaultRendezvous(const LaunchInfo& info, bool localKnown, const LauncherVars& vars) {
  if (!localKnown || info.localSize != info.size) {
    usageError(std::string(info.source) + " launch of " + std::to_string(info.size) + " ranks " +
               (localKnown ? "spans several hosts" : "may span several hosts (no local size)") +
               " and no rendezvous is set: set " + kRendezvousVar + "=host:port, or " +
               kMasterAddrVar + " and " + kMasterPortVar);
  }
  std::string job = env(kJobSecretVar).value_or(jobIdText());
  if (job.empty()) job = "ppid=" + std::to_string(getppid());
  int port = launch::kDefaultPortBase +
             static_cast<int>(hashText(std::string(vars.source) + ";" + job, 0) %
                              launch::kDefaultPortSpan);
  return "127.0.0.1:" + std::to_string(port);
}

std::string rendezvousFor(const LaunchInfo& info, bool localKnown, const LauncherVars& vars) {
  if (auto text = env(kRendezvousVar)) {
    std::string host;
    int port = 0;
    launch::splitHostPort(*text, kRendezvousVar, &host, &port);
    return *text;
  }
  auto addr = env(kMasterAddrVar);
  auto port = env(kMasterPortVar);
  if (addr && port) {
    auto value = parseInt(*port);
    if (!value || *value < 1 || *value > 65535) {
      usageError(std::string(kMasterPortVar) + "=" + *port + " is not a port number");
    }
    bool v6 = addr->find(':') != std::string::npos;
    return (v6 ? "[" + *addr + "]" : *addr) + ":" + *port;
  }
  if (addr || port) {
    usageError(std::string(addr ? kMasterAddrVar : kMasterPortVar) + " is set but " +
               (addr ? kMasterPortVar : kMasterAddrVar) + " is not");
  }
  return defaultRendezvous(info, localKnown, vars);
}

LaunchInfo fromLauncher(const LauncherVars& vars) {
  LaunchInfo info;
  info.source = vars.source;
  info.rank = intVar(vars.rank, vars.source);
  info.size = intVar(vars.size, vars.source);
  if (info.size < 1 || info.rank < 0 || info.rank >= info.size) {
    usageError(std::string(vars.source) + " launch: " + vars.rank + "=" +
               std::to_string(info.rank) + " is outside [0, " + vars.size + "=" +
               std::to_string(info.size) + ")");
  }
  // Without local information, assume one host but never guess a rendezvous from it.
  bool localKnown = env(vars.localRank).has_value();
  info.localRank = localKnown ? intVar(vars.localRank, vars.source) : info.rank;
  std::optional<int> localSize;
  if (vars.localSize != nullptr) {
    if (env(vars.localSize)) localSize = intVar(vars.localSize, vars.source);
  } else {
    localSize = slurmLocalSize(info.size);
  }
  localKnown = localKnown && localSize.has_value();
  info.localSize = localSize.value_or(info.size);
  if (info.localSize < 1 || info.localSize > info.size || info.localRank < 0 ||
      info.localRank >= info.localSize) {
    usageError(std::string(vars.source) + " launch: local rank " + std::to_string(info.localRank) +
               " of local size " + std::to_string(info.localSize) + " is inconsistent with " +
               std::to_string(info.size) + " ranks");
  }
  info.rendezvous = rendezvousFor(info, localKnown, vars);
  return info;
}

}  // namespace

LaunchInfo launchInfoFromEnvironment() {
  if (auto info = launch::findLauncher()) return *info;
  usageError(
      "no launcher recognized: expected PRISM_RANK (prism-run), OMPI_COMM_WORLD_RANK "
      "(mpirun), PMI_RANK (MPICH), SLURM_PROCID (srun) or RANK (torchrun)");
}

namespace launch {

std::optional<LaunchInfo> findLauncher() {
  for (const LauncherVars& vars : kLaunchers) {
    if (env(vars.rank)) return fromLauncher(vars);
  }
  return std::nullopt;
}

std::string jobKey(const LaunchInfo& info) {
  if (auto secret = env(kJobSecretVar)) return "secret:" + *secret;
  if (auto path = env(kJobSecretFileVar)) return "secret:" + secretFromFile(*path);
  std::string job = jobIdText();
  std::string key = !job.empty() ? "job:" + info.source + ";" + job + info.rendezvous
                                 : "rendezvous:" + info.source + ";" + info.rendezvous;
  static std::once_flag warned;
  std::call_once(warned, [&] { log::alert("%s", weakKeyWarning(key).c_str()); });
  return key;
}

std::string weakKeyWarning(const std::string& key) {
  if (key.starts_with("secret:")) return "";
  return "launch: no job secret (PRISM_JOB_SECRET or PRISM_JOB_SECRET_FILE): the bootstrap "
         "secret is derived from " +
         std::string(key.starts_with("job:") ? "the launcher's job id and the rendezvous"
                                             : "the rendezvous address") +
         ", which are not secret, so any process that can reach the rendezvous can join as a "
         "rank and receive the job's data; give every rank the same random "
         "PRISM_JOB_SECRET (docs/launch.md)";
}

void splitHostPort(const std::string& text, const std::string& what, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  std::string hostPart = colon == std::string::npos ? "" : text.substr(0, colon);
  if (hostPart.size() >= 2 && hostPart.front() == '[' && hostPart.back() == ']') {
    hostPart = hostPart.substr(1, hostPart.size() - 2);
  }
  auto value = colon == std::string::npos ? std::nullopt : parseInt(text.substr(colon + 1));
  if (hostPart.empty() || !value || *value < 1 || *value > 65535) {
    usageError(what + "=" + text + " is not host:port");
  }
  *host = hostPart;
  *port = *value;
}

}  // namespace launch
}  // namespace prism
