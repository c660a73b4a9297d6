#include "transports/hybrid/subset_channel.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"

namespace prism {

SubsetSetupChannel::SubsetSetupChannel(SetupChannel& parent, std::vector<int> members)
    : parent_(parent), members_(std::move(members)) {
  check(std::is_sorted(members_.begin(), members_.end()), ncclInternalError,
        "subset channel: members must be ascending");
  auto it = std::find(members_.begin(), members_.end(), parent.rank());
  check(it != members_.end(), ncclInternalError, "subset channel: this rank is not a member");
  rank_ = static_cast<int>(it - members_.begin());
}

void SubsetSetupChannel::allGather(const void* mine, void* all, size_t bytes) {
  // Set-up time only: a temporary buffer for the parent's whole result is fine here.
  std::vector<char> everyone(static_cast<size_t>(parent_.size()) * bytes);
  parent_.allGather(mine, everyone.data(), bytes);
  for (size_t i = 0; i < members_.size(); ++i) {
    std::memcpy(static_cast<char*>(all) + i * bytes,
                everyone.data() + static_cast<size_t>(members_[i]) * bytes, bytes);
  }
}

}  // namespace prism
