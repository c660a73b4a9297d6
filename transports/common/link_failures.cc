#include "transports/common/link_failures.h"

#include <algorithm>

#include "base/error.h"

namespace prism {

void throwLinkFailures(int rank, std::vector<LinkFailure> failures, const char* what) {
  std::sort(failures.begin(), failures.end(),
            [](const LinkFailure& a, const LinkFailure& b) { return a.order < b.order; });
  std::string report = "rank " + std::to_string(rank) + ": ";
  for (size_t i = 0; i < failures.size(); ++i) {
    report += std::string(i == 0 ? "" : "; ") + what + " to rank " +
              std::to_string(failures[i].peer) + " lost: " + failures[i].why;
  }
  throw Error(ncclRemoteError, report);
}

}  // namespace prism
