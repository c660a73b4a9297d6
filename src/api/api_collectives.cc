// Collectives, point-to-point and custom reduction ops: validate, record, submit.
#include "nccl.h"
#include "src/api/guard.h"
#include "src/api/handle.h"
#include "src/api/validate.h"
#include "src/comm/router.h"

using namespace prism;
using namespace prism::api;

namespace {

ncclResult_t collective(const char* name, Collective kind, const void* sendbuff, void* recvbuff,
                        size_t count, int datatype, int op, int root, ncclComm* comm,
                        cudaStream_t stream) {
  return guard(comm, name, [&] {
    Communicator& c = usableComm(comm);
    submit(c, collectiveOperation(c, kind, sendbuff, recvbuff, count, datatype, op, root, stream));
  });
}

ncclResult_t pointToPoint(const char* name, OperationKind kind, const void* buff, size_t count,
                          int datatype, int peer, ncclComm* comm, cudaStream_t stream) {
  return guard(comm, name, [&] {
    Communicator& c = usableComm(comm);
    submit(c, pointToPointOperation(c, kind, buff, count, datatype, peer, stream));
  });
}

}  // namespace

extern "C" {

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream) {
  return collective("ncclAllReduce", Collective::AllReduce, sendbuff, recvbuff, count,
                    rawEnum(datatype), rawEnum(op), 0, comm, stream);
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, int root, ncclComm_t comm,
                           cudaStream_t stream) {
  return collective("ncclBroadcast", Collective::Broadcast, sendbuff, recvbuff, count,
                    rawEnum(datatype), ncclSum, root, comm, stream);
}

ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                       cudaStream_t stream) {
  return collective("ncclBcast", Collective::Broadcast, buff, buff, count, rawEnum(datatype),
                    ncclSum, root, comm, stream);
}

ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                        ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclReduce", Collective::Reduce, sendbuff, recvbuff, count, rawEnum(datatype),
                    rawEnum(op), root, comm, stream);
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                           ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclAllGather", Collective::AllGather, sendbuff, recvbuff, sendcount,
                    rawEnum(datatype), ncclSum, 0, comm, stream);
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                               ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                               cudaStream_t stream) {
  return collective("ncclReduceScatter", Collective::ReduceScatter, sendbuff, recvbuff, recvcount,
                    rawEnum(datatype), rawEnum(op), 0, comm, stream);
}

ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                          ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclAlltoAll", Collective::AllToAll, sendbuff, recvbuff, count,
                    rawEnum(datatype), ncclSum, 0, comm, stream);
}

ncclResult_t ncclGather(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                        int root, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclGather", Collective::Gather, sendbuff, recvbuff, count, rawEnum(datatype),
                    ncclSum, root, comm, stream);
}

ncclResult_t ncclScatter(const void* sendbuff, void* recvbuff, size_t count,
                         ncclDataType_t datatype, int root, ncclComm_t comm, cudaStream_t stream) {
  return collective("ncclScatter", Collective::Scatter, sendbuff, recvbuff, count,
                    rawEnum(datatype), ncclSum, root, comm, stream);
}

ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t datatype, int peer,
                      ncclComm_t comm, cudaStream_t stream) {
  return pointToPoint("ncclSend", OperationKind::Send, sendbuff, count, rawEnum(datatype), peer,
                      comm, stream);
}

ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype, int peer,
                      ncclComm_t comm, cudaStream_t stream) {
  return pointToPoint("ncclRecv", OperationKind::Recv, recvbuff, count, rawEnum(datatype), peer,
                      comm, stream);
}

ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void* scalar, ncclDataType_t datatype,
                                      ncclScalarResidence_t residence, ncclComm_t comm) {
  return guard(comm, "ncclRedOpCreatePreMulSum", [&] {
    Communicator& c = usableComm(comm);
    checkOutPointer(op, "op");
    checkOutPointer(scalar, "scalar");
    DataType type = checkedType(rawEnum(datatype));
    const int where = rawEnum(residence);
    if (!(where == ncclScalarDevice || where == ncclScalarHostImmediate))
      throw Error(ncclInvalidArgument, "unknown scalar residence " + std::to_string(where));
    *op =
        static_cast<ncclRedOp_t>(c.createPreMulSum(type, scalar, where == ncclScalarHostImmediate));
  });
}

ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm) {
  return guard(comm, "ncclRedOpDestroy", [&] { usableComm(comm).destroyOp(rawEnum(op)); });
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
