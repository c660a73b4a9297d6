// The object behind ncclComm_t.
#pragma once

#include <nccl.h>

#include <memory>
#include <mutex>
#include <string>

#include "core/communicator.h"
#include "core/error.h"

/// A communicator handle. It exists from the moment ncclCommInitRank returns, even when
/// initialization is deferred to ncclGroupEnd, so it can report errors of its own.
struct ncclComm {
  std::unique_ptr<prism::Communicator> impl;  ///< null until initialized
  int rank = 0;
  int nranks = 0;
  int cudaDevice = -1;
  ncclResult_t initResult = ncclInProgress;

  prism::Communicator& get() const {
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
