#include "perf/bench/collective_call.h"

namespace prism::bench {
namespace {

ncclResult_t sendRecvRing(const CallArgs& a) {
  int next = (a.rank + 1) % a.nranks;
  int prev = (a.rank - 1 + a.nranks) % a.nranks;
  ncclResult_t result = ncclGroupStart();
  if (result != ncclSuccess) return result;
  ncclResult_t sent = ncclSend(a.send, a.count, a.type, next, a.comm, a.stream);
  ncclResult_t received = ncclRecv(a.recv, a.count, a.type, prev, a.comm, a.stream);
  // The group is always closed, even when queuing failed, so that no group stays open.
  result = ncclGroupEnd();
  if (sent != ncclSuccess) return sent;
  if (received != ncclSuccess) return received;
  return result;
}

}  // namespace

ncclResult_t issueCollective(const CallArgs& a) {
  cudaStream_t stream = a.stream;
  switch (a.collective) {
    case Collective::AllReduce:
      return ncclAllReduce(a.send, a.recv, a.count, a.type, a.op, a.comm, stream);
    case Collective::AllGather:
      return ncclAllGather(a.send, a.recv, a.count, a.type, a.comm, stream);
    case Collective::ReduceScatter:
      return ncclReduceScatter(a.send, a.recv, a.count, a.type, a.op, a.comm, stream);
    case Collective::Broadcast:
      return ncclBroadcast(a.send, a.recv, a.count, a.type, a.root, a.comm, stream);
    case Collective::Reduce:
      return ncclReduce(a.send, a.recv, a.count, a.type, a.op, a.root, a.comm, stream);
    case Collective::AllToAll:
      return ncclAlltoAll(a.send, a.recv, a.count, a.type, a.comm, stream);
    case Collective::Gather:
      return ncclGather(a.send, a.recv, a.count, a.type, a.root, a.comm, stream);
    case Collective::Scatter:
      return ncclScatter(a.send, a.recv, a.count, a.type, a.root, a.comm, stream);
    case Collective::SendRecv:
      return sendRecvRing(a);
  }
  return ncclInvalidArgument;
}

const char* ncclFunctionName(Collective collective) {
  switch (collective) {
    case Collective::AllReduce:
      return "ncclAllReduce";
    case Collective::AllGather:
      return "ncclAllGather";
    case Collective::ReduceScatter:
      return "ncclReduceScatter";
    case Collective::Broadcast:
      return "ncclBroadcast";
    case Collective::Reduce:
      return "ncclReduce";
    case Collective::AllToAll:
      return "ncclAlltoAll";
    case Collective::Gather:
      return "ncclGather";
    case Collective::Scatter:
      return "ncclScatter";
    case Collective::SendRecv:
      return "ncclSend/ncclRecv";
  }
  return "?";
}

}  // namespace prism::bench
