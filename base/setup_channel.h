// The out-of-band exchange a communicator uses while it is being built: the bootstrap
// network for ncclCommInitRank, or the parent communicator for ncclCommSplit/Shrink.
#pragma once

#include <cstddef>

namespace prism {

class SetupChannel {
 public:
  virtual ~SetupChannel() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Every rank contributes `bytes` bytes; `all` receives size() * bytes, rank-ordered.
  /// Throws prism::Error on failure or timeout.
  virtual void allGather(const void* mine, void* all, size_t bytes) = 0;
  /// Returns once every rank has called barrier(). Default: a one-byte allGather.
  virtual void barrier();
};

}  // namespace prism
