#include "src/api/validate.h"

#include <string>

#include "base/error.h"
#include "src/api/handle.h"
#include "src/core/block_layout.h"
#include "src/device/device.h"

namespace prism::api {

namespace {

/// Marks `o` as a device operation when its buffers are CUDA device memory. Both buffers a
/// rank uses must be on the same side.
void placeOperation(Operation& o, const void* send, const void* recv, cudaStream_t stream) {
  device::Side sendSide = device::sideOf(send), recvSide = device::sideOf(recv);
  if (send != nullptr && recv != nullptr) {
    if (sendSide != recvSide)
      throw Error(ncclInvalidArgument, std::string("sendbuff is ") +
                                           (sendSide == device::Side::Device ? "device" : "host") +
                                           " memory but recvbuff is " +
                                           (recvSide == device::Side::Device ? "device" : "host") +
                                           " memory; both must be on the same side");
  }
  o.onDevice = (send ? sendSide : recvSide) == device::Side::Device;
  o.stream = stream;
}

}  // namespace

Communicator& usableComm(ncclComm* comm) {
  check(comm != nullptr, ncclInvalidArgument, "comm is NULL");
  Communicator& c = comm->get();
  c.checkUsable();
  return c;
}

DataType checkedType(int value) {
  if (value < 0 || value >= kNumDataTypes)
    throw Error(ncclInvalidArgument, "unknown datatype " + std::to_string(value));
  return static_cast<DataType>(value);
}

void checkRank(int rank, int nranks, const char* what) {
  if (rank < 0 || rank >= nranks)
    throw Error(ncclInvalidArgument, std::string(what) + " " + std::to_string(rank) +
                                         " is outside [0, " + std::to_string(nranks) + ")");
}

size_t checkedBytes(size_t count, DataType type, size_t factor, const char* what) {
  size_t bytes = 0;
  bool overflow = __builtin_mul_overflow(count, dataTypeSize(type), &bytes) ||
                  __builtin_mul_overflow(bytes, factor, &bytes);
  if (overflow || bytes > kMaxCallBytes)
    throw Error(ncclInvalidArgument, std::string(what) + " of " + std::to_string(count) + " " +
                                         dataTypeName(type) + " elements is too large (limit " +
                                         std::to_string(kMaxCallBytes) + " bytes)");
  return bytes;
}

void checkBuffer(const void* buffer, size_t count, const char* what) {
  if (buffer == nullptr && count != 0)
    throw Error(ncclInvalidArgument,
                std::string(what) + " is NULL with count " + std::to_string(count));
}

void checkOutPointer(const void* pointer, const char* what) {
  if (pointer == nullptr) throw Error(ncclInvalidArgument, std::string(what) + " is NULL");
}

Operation collectiveOperation(Communicator& c, Collective kind, const void* sendbuff,
                              void* recvbuff, size_t count, int datatype, int op, int root,
                              cudaStream_t stream) {
  Operation o;
  o.kind = OperationKind::Collective;
  o.collective = kind;
  o.type = checkedType(datatype);
  o.count = count;
  o.sendbuff = sendbuff;
  o.recvbuff = recvbuff;
  o.root = root;
  checkedBytes(count, o.type, bufferShares(kind, c.size()), "a buffer");
  const bool rooted = isRooted(kind);
  if (rooted) checkRank(root, c.size(), "root");
  bool isRoot = !rooted || root == c.rank();
  bool usesSend = usesSendBuffer(kind, isRoot), usesRecv = usesRecvBuffer(kind, isRoot);
  if (usesSend) checkBuffer(sendbuff, count, "sendbuff");
  if (usesRecv) checkBuffer(recvbuff, count, "recvbuff");
  if (isReduction(kind)) o.reduction = c.reductionFor(op, o.type);
  if (count > 0) {
    placeOperation(o, usesSend ? sendbuff : nullptr, usesRecv ? recvbuff : nullptr, stream);
  }
  return o;
}

Operation pointToPointOperation(Communicator& c, OperationKind kind, const void* buff, size_t count,
                                int datatype, int peer, cudaStream_t stream) {
  Operation o;
  o.kind = kind;
  o.type = checkedType(datatype);
  o.count = count;
  o.peer = peer;
  checkRank(peer, c.size(), "peer");
  checkedBytes(count, o.type, 1, "the message");
  checkBuffer(buff, count, kind == OperationKind::Send ? "sendbuff" : "recvbuff");
  o.sendbuff = buff;
  o.recvbuff = const_cast<void*>(buff);
  if (count > 0) placeOperation(o, buff, nullptr, stream);
  return o;
}

}  // namespace prism::api
