// What a native Comm holds: the C handle it owns and its queue in the progress engine.
#pragma once

#include <memory>

#include "prism/comm.hpp"
#include "src/api/handle.h"
#include "src/native/progress_engine.h"

namespace prism {

struct Comm::Impl {
  /// Takes ownership of `comm` (initialized) and attaches a queue for it.
  explicit Impl(ncclComm_t comm);
  /// Waits for queued operations (each bounded by PRISM_TIMEOUT_S), detaches, destroys.
  ~Impl();

  Communicator& communicator() const { return handle->get(); }
  /// Queues `ops` (one group) and returns its Work.
  Work submit(std::vector<Operation> ops, size_t bytes, Priority priority);

  ncclComm_t handle = nullptr;
  std::shared_ptr<native::CommQueue> queue;
  Work last;  ///< the latest submission; operations complete in order
};

}  // namespace prism
