#include "base/setup_channel.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/error.h"

namespace prism {

void SetupChannel::barrier() {
  char mine = 0;
  std::vector<char> all(static_cast<size_t>(size()));
  allGather(&mine, all.data(), 1);
}

Refusal firstRefusal(SetupChannel& setup, const std::string& reason) {
  std::vector<char> mine(kRefusalBytes, '\0');
  std::memcpy(mine.data(), reason.data(), std::min(reason.size(), kRefusalBytes - 1));
  std::vector<char> all(kRefusalBytes * static_cast<size_t>(setup.size()));
  setup.allGather(mine.data(), all.data(), kRefusalBytes);
  for (int r = 0; r < setup.size(); ++r) {
    const char* theirs = all.data() + static_cast<size_t>(r) * kRefusalBytes;
    if (theirs[0] != '\0') return {r, std::string(theirs)};
  }
  return {};
}

void throwIfAnyRankFailed(SetupChannel& setup, const std::string& failure,
                          const std::string& what) {
  const Refusal first = firstRefusal(setup, failure);
  if (first.rank < 0) return;
  throw Error(ncclSystemError,
              what + " on rank " + std::to_string(first.rank) + ": " + first.reason);
}

}  // namespace prism
