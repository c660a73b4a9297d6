// The one report of a network transport's lost links, shared by TCP and UCX.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prism {

struct LinkFailure {
  int peer;
  uint64_t order;   ///< when it failed, among the transport's failures
  std::string why;  ///< the transport's reason
};

/// Throws ncclRemoteError "rank R: <what> to rank P lost: why[; <what> to rank Q lost: why]",
/// listing the failures in the order they happened, so the report names the rank that died
/// first first (survivors that give up close their connections too).
[[noreturn]] void throwLinkFailures(int rank, std::vector<LinkFailure> failures, const char* what);

}  // namespace prism
