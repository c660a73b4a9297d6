// The out-of-band exchange a communicator uses while it is being built: the bootstrap
// network for ncclCommInitRank, or the parent communicator for ncclCommSplit/Shrink.
#pragma once

#include <cstddef>
#include <string>

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

/// The first rank (lowest number) that gave a reason, and the reason (at most
/// kRefusalBytes - 1 bytes of it); rank -1 when no rank gave one.
struct Refusal {
  int rank = -1;
  std::string reason;
};
inline constexpr size_t kRefusalBytes = 240;

/// Collective over `setup`: every rank offers `reason`, empty when it has none to refuse
/// or fail for, and every rank learns the same first refusal. One allGather.
Refusal firstRefusal(SetupChannel& setup, const std::string& reason);

/// Collective over `setup`: when any rank's `failure` is not empty, every rank throws
/// prism::Error(ncclSystemError) "<what> on rank R: <R's failure>", naming the first one.
void throwIfAnyRankFailed(SetupChannel& setup, const std::string& failure, const std::string& what);

}  // namespace prism
