// What a path (the direct host path, the device path) may ask of the communicator that
// owns it. The paths are peers the communicator owns; they see it only through this
// interface, so none of them depends on the communicator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "src/core/op_tag.h"
#include "src/core/operation.h"

namespace prism {

class Transport;

class PathContext {
 public:
  virtual ~PathContext() = default;

  virtual const std::string& name() const = 0;
  /// The host index of every rank: equal indices share memory.
  virtual const std::vector<int>& hostOf() const = 0;
  /// The CUDA device current when the communicator was created (-1: none).
  virtual int cudaDevice() const = 0;
  /// Polls before a waiting rank yields (PRISM_SPIN).
  virtual int64_t spinCount() const = 0;
  /// Seconds without progress before a wait fails (PRISM_TIMEOUT_S).
  virtual int64_t timeoutSeconds() const = 0;
  /// More ranks than the CPUs this process may run on.
  virtual bool oversubscribed() const = 0;
  /// True once the communicator was aborted or revoked: waiters stop.
  virtual bool aborted() const = 0;
  virtual Transport& transport() = 0;
  /// Takes the number of the next collective on the whole communicator, for a path that
  /// runs one without a plan.
  virtual uint64_t nextCollectiveSeq() = 0;
  /// Host AllGather of `bytes` per rank over the transport (a path's internal exchanges);
  /// `serves` as Operation::serves.
  virtual void allGatherBytes(const void* mine, void* all, size_t bytes,
                              const OpFingerprint* serves = nullptr) = 0;
  /// Runs `ops` to completion on the plan path.
  virtual void run(std::span<const Operation> ops) = 0;
};

}  // namespace prism
