// The UCX transport's entry points in a build without UCX (libucx-dev not found, or
// -DPRISM_UCX=OFF): asking for it is a clear error, and automatic selection never does.
#include "base/error.h"
#include "transports/ucx/ucx_transport.h"

namespace prism {

bool ucxBuilt() { return false; }

std::unique_ptr<Transport> createUcxTransport(SetupChannel&, const UcxTransportOptions&,
                                              const std::vector<bool>&) {
  throw Error(ncclInvalidUsage,
              "PRISM_TRANSPORT=ucx, but this build of Prism has no UCX transport (it was built "
              "without libucx-dev)");
}

UcxReach ucxReach(Transport&) { return {}; }

}  // namespace prism
