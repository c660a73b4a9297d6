#include "base/setup_channel.h"

#include <vector>

namespace prism {

void SetupChannel::barrier() {
  char mine = 0;
  std::vector<char> all(static_cast<size_t>(size()));
  allGather(&mine, all.data(), 1);
}

}  // namespace prism
