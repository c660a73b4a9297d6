// The object behind ncclComm_t.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "base/error.h"
#include "nccl.h"
#include "src/api/fork_guard.h"
#include "src/comm/communicator.h"

/// A communicator handle. It exists from the moment ncclCommInitRank returns, even when
/// initialization is deferred to ncclGroupEnd, so it can report errors of its own.
struct ncclComm {
  std::unique_ptr<prism::Communicator> impl;  ///< null until initialized
  int rank = 0;
  int nranks = 0;
  int cudaDevice = -1;
  ncclResult_t initResult = ncclInProgress;
  /// prism::api::forkGeneration() when the handle was made.
  uint64_t forkGeneration = prism::api::forkGeneration();

  /// True in a fork()ed child of the process that made the handle.
  bool inheritedByFork() const { return forkGeneration != prism::api::forkGeneration(); }

  prism::Communicator& get() const {
    prism::check(!inheritedByFork(), ncclInvalidUsage,
                 "the communicator belongs to the parent process; a fork()ed child cannot use "
                 "it (create a communicator in the child instead)");
    prism::check(impl != nullptr, initResult == ncclInProgress ? ncclInvalidUsage : initResult,
                 "communicator is not initialized (init failed or is still in a group)");
    return *impl;
  }

  void setLastError(const std::string& message) {
    std::lock_guard lock(errorMutex_);
    lastError_ = message;
  }
  std::string lastError() const {
    std::lock_guard lock(errorMutex_);
    return lastError_;
  }

 private:
  mutable std::mutex errorMutex_;
  std::string lastError_;
};
