// prismLaunchWorld: the launcher world for programs that use only libprism.so's C ABI.
#include "prism/prism.h"
#include "src/api/guard.h"
#include "src/launch/launch_env.h"

extern "C" ncclResult_t prismLaunchWorld(int* rank, int* size, ncclUniqueId* id) {
  return prism::api::guard(nullptr, "prismLaunchWorld", [&] {
    prism::check(rank != nullptr && size != nullptr && id != nullptr, ncclInvalidArgument,
                 "prismLaunchWorld: null argument");
    *rank = 0;
    *size = 1;
    std::optional<prism::LaunchInfo> info;
    try {
      info = prism::launch::findLauncher();
    } catch (const prism::CommError& e) {
      throw prism::Error(e.code(), e.what());
    }
    if (!info) return;  // no launcher: the caller runs on its own
    if (info->size > 1) {
      try {
        prism::uniqueIdFromRendezvous(*info, id);
      } catch (const prism::CommError& e) {
        throw prism::Error(e.code(), e.what());
      }
    }
    *rank = info->rank;
    *size = info->size;
  });
}
