// Collectives, point-to-point and custom reduction ops: validate, record, submit.
#include <nccl.h>

#include "api/group.h"
#include "api/guard.h"
#include "api/handle.h"
#include "api/validate.h"
#include "device/device.h"

using namespace prism;
using namespace prism::api;

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

ncclResult_t collective(const char* name, Collective kind, const void* sendbuff, void* recvbuff,
                        size_t count, ncclDataType_t datatype, int op, int root, ncclComm* comm,
                        cudaStream_t stream) {
  return guard(comm, name, [&] {
    Communicator& c = usableComm(comm);
    Operation o;
    o.kind = OperationKind::Collective;
    o.collective = kind;
    o.type = checkedType(datatype);
    o.count = count;
    o.sendbuff = sendbuff;
    o.recvbuff = recvbuff;
    o.root = root;
    checkedBytes(count, o.type, bufferShares(kind, c.size()), "a buffer");
    bool rooted = kind == Collective::Broadcast || kind == Collective::Reduce ||
                  kind == Collective::Gather || kind == Collective::Scatter;
    if (rooted) checkRank(root, c.size(), "root");
    bool isRoot = !rooted || root == c.rank();
    bool usesSend = usesSendBuffer(kind, isRoot), usesRecv = usesRecvBuffer(kind, isRoot);
    if (usesSend) checkBuffer(sendbuff, count, "sendbuff");
    if (usesRecv) checkBuffer(recvbuff, count, "recvbuff");
    if (isReduction(kind)) o.reduction = c.reductionFor(op, o.type);
    if (count > 0) {
      placeOperation(o, usesSend ? sendbuff : nullptr, usesRecv ? recvbuff : nullptr, stream);
    }
    group::submit(comm, o);
  });
}

ncclResult_t pointToPoint(const char* name, OperationKind kind, const void* buff, size_t count,
                          ncclDataType_t datatype, int peer, ncclComm* comm, cudaStream_t stream) {
  return guard(comm, name, [&] {
    Communicator& c = usableComm(comm);
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
    group::submit(comm, o);
  });
}

}  // namespace

extern "C" {

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream) {
  return collective("ncclAllReduce", Collective::AllReduce, sendbuff, recvbuff, count, datatype, op,
                    0, comm, stream);
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, int root, ncclComm_t comm,
                           cudaStream_t stream) {
  return collective("ncclBroadcast", Collective::Broadcast, sendbuff, recvbuff, count, datatype,
                    ncclSum, root, comm, stream);
}

ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                       cudaStream_t stream) {
  return collective("ncclBcast", Collective::Broadcast, buff, buff, count, datatype, ncclSum, root,
                    comm, stream);
}

ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                        ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclReduce", Collective::Reduce, sendbuff, recvbuff, count, datatype, op, root,
                    comm, stream);
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                           ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclAllGather", Collective::AllGather, sendbuff, recvbuff, sendcount, datatype,
                    ncclSum, 0, comm, stream);
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                               ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                               cudaStream_t stream) {
  return collective("ncclReduceScatter", Collective::ReduceScatter, sendbuff, recvbuff, recvcount,
                    datatype, op, 0, comm, stream);
}

ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                          ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclAlltoAll", Collective::AllToAll, sendbuff, recvbuff, count, datatype,
                    ncclSum, 0, comm, stream);
}

ncclResult_t ncclGather(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                        int root, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclGather", Collective::Gather, sendbuff, recvbuff, count, datatype, ncclSum,
                    root, comm, stream);
}

ncclResult_t ncclScatter(const void* sendbuff, void* recvbuff, size_t count,
                         ncclDataType_t datatype, int root, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclScatter", Collective::Scatter, sendbuff, recvbuff, count, datatype,
                    ncclSum, root, comm, stream);
}

ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t datatype, int peer,
                      ncclComm_t comm, cudaStream_t stream) {
  return pointToPoint("ncclSend", OperationKind::Send, sendbuff, count, datatype, peer, comm,
                      stream);
}

ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype, int peer,
                      ncclComm_t comm, cudaStream_t stream) {
  return pointToPoint("ncclRecv", OperationKind::Recv, recvbuff, count, datatype, peer, comm,
                      stream);
}

ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void* scalar, ncclDataType_t datatype,
                                      ncclScalarResidence_t residence, ncclComm_t comm) {
  return guard(comm, "ncclRedOpCreatePreMulSum", [&] {
    Communicator& c = usableComm(comm);
    checkOutPointer(op, "op");
    checkOutPointer(scalar, "scalar");
    DataType type = checkedType(datatype);
    if (!(residence == ncclScalarDevice || residence == ncclScalarHostImmediate))
      throw Error(ncclInvalidArgument, "unknown scalar residence " + std::to_string(residence));
    *op = static_cast<ncclRedOp_t>(
        c.createPreMulSum(type, scalar, residence == ncclScalarHostImmediate));
  });
}

ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm) {
  return guard(comm, "ncclRedOpDestroy", [&] { usableComm(comm).destroyOp(op); });
}

}  // extern "C"

PRISM_PROFILING_ALIAS(ncclAllReduce);
PRISM_PROFILING_ALIAS(ncclBroadcast);
PRISM_PROFILING_ALIAS(ncclBcast);
PRISM_PROFILING_ALIAS(ncclReduce);
PRISM_PROFILING_ALIAS(ncclAllGather);
PRISM_PROFILING_ALIAS(ncclReduceScatter);
PRISM_PROFILING_ALIAS(ncclAlltoAll);
PRISM_PROFILING_ALIAS(ncclGather);
PRISM_PROFILING_ALIAS(ncclScatter);
PRISM_PROFILING_ALIAS(ncclSend);
PRISM_PROFILING_ALIAS(ncclRecv);
PRISM_PROFILING_ALIAS(ncclRedOpCreatePreMulSum);
PRISM_PROFILING_ALIAS(ncclRedOpDestroy);
