// Argument checks shared by the C entry points. Each throws prism::Error with
// ncclInvalidArgument (or ncclInvalidUsage) and a one-line reason.
#pragma once

#include <cstddef>
#include <cstring>

#include "base/dtype.h"
#include "nccl.h"
#include "src/api/handle.h"
#include "src/core/operation.h"

namespace prism::api {

/// Larger single calls are rejected as absurd rather than attempted (1 TiB).
inline constexpr size_t kMaxCallBytes = size_t{1} << 40;

/// The communicator, initialized and usable.
Communicator& usableComm(ncclComm* comm);
/// The integer a caller passed for a C enum parameter, read without loading the enum:
/// callers pass any bit pattern, and a load of a value outside the enum's range is
/// undefined behaviour (UBSan's invalid-enum check). Validate the integer, then convert.
template <class Enum>
int rawEnum(const Enum& value) {
  static_assert(sizeof(Enum) == sizeof(int));
  int raw;
  std::memcpy(&raw, &value, sizeof(raw));
  return raw;
}

DataType checkedType(int type);
void checkRank(int rank, int nranks, const char* what);
/// count * elementSize * factor, checked for overflow and against kMaxCallBytes.
size_t checkedBytes(size_t count, DataType type, size_t factor, const char* what);
void checkBuffer(const void* buffer, size_t count, const char* what);
void checkOutPointer(const void* pointer, const char* what);

/// The Operation of a collective call on `c`, every argument checked (the C API and the
/// native C++ API share it). Marks it a device operation when its buffers are CUDA memory.
Operation collectiveOperation(Communicator& c, Collective kind, const void* sendbuff,
                              void* recvbuff, size_t count, int datatype, int op, int root,
                              cudaStream_t stream);
/// The same for ncclSend / ncclRecv (`kind` Send or Recv).
Operation pointToPointOperation(Communicator& c, OperationKind kind, const void* buff, size_t count,
                                int datatype, int peer, cudaStream_t stream);

}  // namespace prism::api
