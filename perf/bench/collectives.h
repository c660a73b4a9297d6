// The collectives prism-bench measures and the per-collective facts it needs: names,
// which arguments apply, how a nominal size becomes buffers and counts (as nccl-tests
// sizes them). The enum and the bus-bandwidth factor are prism/collective.hpp's.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "prism/collective.hpp"

namespace prism::bench {

/// The command-line name: allreduce, allgather, reducescatter, broadcast, reduce,
/// alltoall, gather, scatter, sendrecv.
const char* cliName(Collective c);
/// Accepts the names above in any case, with '_' or '-' anywhere ("all_reduce") and an
/// optional "_perf" suffix, so nccl-tests binary names work too.
std::optional<Collective> parseCollective(std::string_view name);
/// "allreduce, allgather, ..." for help and error messages.
const char* collectiveNameList();

/// True for the collectives that take a reduction operator.
bool usesRedOp(Collective c);
/// True for the collectives that take a root rank.
bool usesRoot(Collective c);

/// What one rank works with for one nominal size. Counts are in elements.
struct Layout {
  size_t count = 0;          ///< the count argument of the NCCL call; the "count" column
  size_t sendCount = 0;      ///< elements of the send buffer
  size_t recvCount = 0;      ///< elements of the receive buffer
  size_t reportedBytes = 0;  ///< the "size" column and the bytes algbw is computed from
  /// In place, both buffers live in one allocation of max(sendCount, recvCount)
  /// elements; these are their offsets in it (allgather: the send block sits at
  /// rank*count of the output; reducescatter: the output is block rank of the input).
  size_t inPlaceSendOffset = 0;
  size_t inPlaceRecvOffset = 0;
};

/// The nccl-tests sizing rule: for allgather, alltoall and gather `bytes` is the total
/// receive size, for reducescatter and scatter the total send size, and each rank's
/// block is bytes / (typeSize * nranks) elements; for the others count = bytes /
/// typeSize. Sizes that do not divide evenly are rounded down.
Layout layoutFor(Collective c, size_t bytes, size_t typeSize, int nranks, int rank);

}  // namespace prism::bench
