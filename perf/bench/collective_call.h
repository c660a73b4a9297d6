// Issuing one measured operation through the public NCCL API.
#pragma once

#include <cstddef>

#include "nccl.h"
#include "perf/bench/collectives.h"

namespace prism::bench {

/// Arguments of one call, already resolved for the calling rank.
struct CallArgs {
  Collective collective = Collective::AllReduce;
  const void* send = nullptr;
  void* recv = nullptr;
  size_t count = 0;  ///< Layout::count
  ncclDataType_t type = ncclFloat32;
  ncclRedOp_t op = ncclSum;
  int root = 0;
  int rank = 0;
  int nranks = 1;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;  ///< the rank's stream; null for host memory
};

/// Makes the call on args.stream; with host buffers it is complete on return.
/// sendrecv is a group of a send to rank+1 and a receive from rank-1 (mod nranks).
ncclResult_t issueCollective(const CallArgs& args);

/// The NCCL function a collective maps to, for error messages ("ncclAllReduce").
const char* ncclFunctionName(Collective collective);

}  // namespace prism::bench
