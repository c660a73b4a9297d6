// Communicator life cycle: init (rank, config, all, scalable), split, shrink, finalize,
// destroy, abort, revoke.
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/setup_channel.h"
#include "nccl.h"
#include "src/api/guard.h"
#include "src/api/handle.h"
#include "src/api/validate.h"
#include "src/bootstrap/bootstrap.h"
#include "src/comm/group.h"
#include "src/device/device.h"

using namespace prism;
using namespace prism::api;

namespace {

constexpr unsigned kConfigMagic = 0xcafebeef;
constexpr auto kAbortGrace = std::chrono::seconds(10);

/// Reads the fields of a caller's ncclConfig_t that this build acts on. Fields the caller's
/// (older, smaller) struct does not have keep their defaults.
CommOptions optionsFrom(const ncclConfig_t* config) {
  CommOptions options;
  if (!config) return options;
  check(config->magic == kConfigMagic, ncclInvalidArgument,
        "config was not initialized with NCCL_CONFIG_INITIALIZER (bad magic)");
  check(config->size >= offsetof(ncclConfig_t, cgaClusterSize) && config->size <= 4096,
        ncclInvalidArgument, "config has an implausible size " + std::to_string(config->size));
  if (config->blocking != NCCL_CONFIG_UNDEF_INT) {
    check(config->blocking == 0 || config->blocking == 1, ncclInvalidArgument,
          "config.blocking must be 0 or 1");
    options.blocking = config->blocking == 1;
  }
  if (config->size >= offsetof(ncclConfig_t, collnetEnable) && config->commName)
    options.commName = config->commName;
  return options;
}

ncclComm* newHandle(int rank, int nranks) {
  auto* comm = new ncclComm;
  comm->rank = rank;
  comm->nranks = nranks;
  return comm;
}

/// Bootstraps `comm` from `id`; runs now or at ncclGroupEnd.
void initFromId(ncclComm* comm, ncclUniqueId id, CommOptions options) {
  group::submitInit([comm, id, options] {
    try {
      std::unique_ptr<SetupChannel> setup = connectBootstrap(id, comm->rank, comm->nranks);
      comm->impl = std::make_unique<Communicator>(*setup, uniqueIdTag(id), options);
      comm->initResult = ncclSuccess;
    } catch (const Error& e) {
      comm->initResult = e.code();
      // Also on the handle: a non-blocking init reports it only through the handle.
      comm->setLastError(std::string("communicator init: ") + e.what());
      throw;
    }
  });
}

ncclResult_t initRank(const char* name, ncclComm_t* out, int nranks, const ncclUniqueId* id,
                      int rank, ncclConfig_t* config) {
  ncclResult_t result = guard(nullptr, name, [&] {
    checkOutPointer(out, "comm");
    *out = nullptr;
    check(nranks > 0, ncclInvalidArgument, "nranks " + std::to_string(nranks) + " must be > 0");
    checkRank(rank, nranks, "rank");
    checkOutPointer(id, "commId");
    validateUniqueId(*id);
    CommOptions options = optionsFrom(config);
    // NCCL binds a communicator to the device current at init, also when the init itself
    // is deferred to ncclGroupEnd and runs on another thread.
    options.cudaDevice = device::currentDevice();
    ncclComm* comm = newHandle(rank, nranks);
    comm->cudaDevice = options.cudaDevice;
    *out = comm;
    initFromId(comm, *id, options);
  });
  // The handle did not exist when the guard began, so a reason raised here went only to
  // the process-wide last error; ncclGetLastError(comm) on the handle must give it too.
  if (result != ncclSuccess && result != ncclInProgress && out != nullptr && *out != nullptr &&
      (*out)->lastError().empty())
    (*out)->setLastError(lastErrorText(nullptr));
  return result;
}

/// Builds a handle around a communicator made from an existing one.
/// In a fork()ed child, drops the parent's communicator without destroying it: its
/// destructor would close connections and shared state that the parent still uses (a TCP
/// goodbye on the parent's sockets). The child's copy of its memory is simply left.
void forgetIfInherited(ncclComm* comm) {
  if (comm->inheritedByFork()) (void)comm->impl.release();
}

ncclComm* wrap(std::unique_ptr<Communicator> child) {
  if (!child) return nullptr;
  ncclComm* comm = newHandle(child->rank(), child->size());
  comm->impl = std::move(child);
  comm->initResult = ncclSuccess;
  return comm;
}

}  // namespace

extern "C" {

ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank,
                                    ncclConfig_t* config) {
  return initRank("ncclCommInitRankConfig", comm, nranks, &commId, rank, config);
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
  return initRank("ncclCommInitRank", comm, nranks, &commId, rank, nullptr);
}

ncclResult_t ncclCommInitRankScalable(ncclComm_t* newcomm, int nranks, int myrank, int nId,
                                      ncclUniqueId* commIds, ncclConfig_t* config) {
  ncclResult_t early = guard(nullptr, "ncclCommInitRankScalable", [&] {
    check(nId >= 1, ncclInvalidArgument, "nId must be >= 1");
    checkOutPointer(commIds, "commIds");
  });
  if (early != ncclSuccess) return early;
  // Every rank receives the same ids; one root serves all ranks on a single host.
  return initRank("ncclCommInitRankScalable", newcomm, nranks, &commIds[0], myrank, config);
}

ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  return guard(nullptr, "ncclCommInitAll", [&] {
    checkOutPointer(comms, "comms");
    check(ndev > 0, ncclInvalidArgument, "ndev " + std::to_string(ndev) + " must be > 0");
    ncclUniqueId id;
    createUniqueId(&id);
    group::start();
    try {
      for (int r = 0; r < ndev; ++r) {
        comms[r] = newHandle(r, ndev);
        comms[r]->cudaDevice = devlist ? devlist[r] : r;
        CommOptions options;
        options.cudaDevice = device::available() ? comms[r]->cudaDevice : -1;
        initFromId(comms[r], id, options);
      }
    } catch (...) {
      group::recordError(ncclInternalError);
    }
    group::end();
  });
}

ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm,
                           ncclConfig_t* config) {
  return guard(comm, "ncclCommSplit", [&] {
    checkOutPointer(newcomm, "newcomm");
    *newcomm = nullptr;
    Communicator& c = usableComm(comm);
    CommOptions options = config ? optionsFrom(config) : c.options();
    options.cudaDevice = c.options().cudaDevice;
    if (!group::active()) {
      *newcomm = wrap(c.split(color, key, options));
      if (*newcomm) (*newcomm)->cudaDevice = comm->cudaDevice;
      return;
    }
    // Inside a group the split runs at ncclGroupEnd, as a deferred init does: one thread
    // may drive several ranks, which must meet in the split together. The handle exists
    // at once (NULL for NCCL_SPLIT_NOCOLOR, which is known here) and reports the outcome.
    check(color >= 0 || color == NCCL_SPLIT_NOCOLOR, ncclInvalidArgument,
          "ncclCommSplit: color must be >= 0 or NCCL_SPLIT_NOCOLOR");
    ncclComm* child = color == NCCL_SPLIT_NOCOLOR ? nullptr : newHandle(-1, 0);
    if (child) child->cudaDevice = comm->cudaDevice;
    group::submitInit([&c, child, color, key, options] {
      try {
        std::unique_ptr<Communicator> made = c.split(color, key, options);
        if (child == nullptr) return;
        check(made != nullptr, ncclInternalError, "ncclCommSplit: no communicator for a color");
        child->rank = made->rank();
        child->nranks = made->size();
        child->impl = std::move(made);
        child->initResult = ncclSuccess;
      } catch (const Error& e) {
        if (child) {
          child->initResult = e.code();
          child->setLastError(std::string("ncclCommSplit: ") + e.what());
        }
        throw;
      }
    });
    *newcomm = child;
  });
}

ncclResult_t ncclCommShrink(ncclComm_t comm, int* excludeRanksList, int excludeRanksCount,
                            ncclComm_t* newcomm, ncclConfig_t* config, int shrinkFlags) {
  return guard(comm, "ncclCommShrink", [&] {
    checkOutPointer(newcomm, "newcomm");
    *newcomm = nullptr;
    check(shrinkFlags == NCCL_SHRINK_DEFAULT || shrinkFlags == NCCL_SHRINK_ABORT,
          ncclInvalidArgument, "unknown shrinkFlags " + std::to_string(shrinkFlags));
    check(excludeRanksCount >= 0, ncclInvalidArgument, "excludeRanksCount must be >= 0");
    if (excludeRanksCount > 0) checkOutPointer(excludeRanksList, "excludeRanksList");
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    Communicator& c = comm->get();
    std::vector<int> excluded(excludeRanksList, excludeRanksList + excludeRanksCount);
    for (int r : excluded) checkRank(r, c.size(), "excluded rank");
    CommOptions options = config ? optionsFrom(config) : c.options();
    options.cudaDevice = c.options().cudaDevice;
    *newcomm = wrap(c.shrink(excluded, options));
    (*newcomm)->cudaDevice = comm->cudaDevice;
  });
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  // Host operations are complete when their call returns, so there is nothing to flush.
  return guard(comm, "ncclCommFinalize", [&] {
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    comm->get();
  });
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm) return ncclSuccess;
  return guard(nullptr, "ncclCommDestroy", [&] {
    forgetIfInherited(comm);
    delete comm;
  });
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (!comm) return ncclSuccess;
  return guard(nullptr, "ncclCommAbort", [&] {
    forgetIfInherited(comm);
    if (comm->impl) {
      // Waiters on other threads see the flag at their next poll (at most one doorbell
      // nap later), fail with an error and leave; only then is the object freed.
      comm->impl->abort();
      auto deadline = std::chrono::steady_clock::now() + kAbortGrace;
      while (comm->impl->drivers().load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      check(comm->impl->drivers().load() == 0, ncclInternalError,
            "ncclCommAbort: a thread is still inside an operation; the communicator is leaked");
    }
    delete comm;
  });
}

ncclResult_t ncclCommRevoke(ncclComm_t comm, int revokeFlags) {
  return guard(comm, "ncclCommRevoke", [&] {
    check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
    check(revokeFlags == NCCL_REVOKE_DEFAULT, ncclInvalidArgument, "revokeFlags must be 0");
    comm->get().abort();
  });
}

}  // extern "C"

PRISM_PROFILING_ALIAS(ncclCommInitRankConfig);
PRISM_PROFILING_ALIAS(ncclCommInitRank);
PRISM_PROFILING_ALIAS(ncclCommInitRankScalable);
PRISM_PROFILING_ALIAS(ncclCommInitAll);
PRISM_PROFILING_ALIAS(ncclCommSplit);
PRISM_PROFILING_ALIAS(ncclCommShrink);
PRISM_PROFILING_ALIAS(ncclCommFinalize);
PRISM_PROFILING_ALIAS(ncclCommDestroy);
PRISM_PROFILING_ALIAS(ncclCommAbort);
PRISM_PROFILING_ALIAS(ncclCommRevoke);
