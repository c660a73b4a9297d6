// Comm::fromEnvironment: the launcher's world (src/launch reads the variables and builds
// the id every rank agrees on).
#include "prism/comm.hpp"
#include "src/launch/launch_env.h"

namespace prism {

Comm Comm::fromEnvironment() {
  LaunchInfo info = launchInfoFromEnvironment();
  ncclUniqueId id{};
  if (info.size == 1) {
    if (ncclResult_t r = ncclGetUniqueId(&id); r != ncclSuccess)
      throw CommError(r, std::string("ncclGetUniqueId failed: ") + ncclGetLastError(nullptr));
  } else {
    uniqueIdFromRendezvous(info, &id);
  }
  return fromUniqueId(id, info.size, info.rank);
}

}  // namespace prism
