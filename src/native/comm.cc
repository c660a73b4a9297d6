// prism::Comm: validates each call as the C API does, then hands it to the progress
// engine and returns its Work at once.
#include "prism/comm.hpp"

#include <algorithm>

#include "base/error.h"
#include "nccl.h"
#include "src/api/validate.h"
#include "src/comm/communicator.h"
#include "src/core/block_layout.h"
#include "src/native/comm_impl.h"
#include "src/native/device_stream.h"
#include "src/native/translated.h"
#include "src/native/work_state.h"

namespace prism {

namespace {

using native::translated;

void checkResult(ncclResult_t result, const char* call) {
  if (result != ncclSuccess)
    throw CommError(result, std::string(call) + " failed: " + ncclGetLastError(nullptr));
}

Comm::Impl& usable(const std::unique_ptr<Comm::Impl>& impl) {
  if (!impl) throw CommError(ncclInvalidUsage, "the Comm is empty (moved from or NOCOLOR)");
  return *impl;
}

}  // namespace

Comm::Impl::Impl(ncclComm_t comm) : handle(comm) {
  queue = std::make_shared<native::CommQueue>(handle->get());
  native::ProgressEngine::instance().attach(queue);
}

Comm::Impl::~Impl() {
  try {
    last.wait();
  } catch (const CommError&) {
    // Reported to whoever waited on it; destruction goes on.
  }
  native::ProgressEngine::instance().detach(queue);
  if (queue->deviceStream != nullptr) native::destroyStream(queue->deviceStream);
  queue.reset();
  ncclCommDestroy(handle);
}

Work Comm::Impl::submit(std::vector<Operation> ops, size_t bytes, Priority priority) {
  native::PendingOp op;
  op.onDevice = std::any_of(ops.begin(), ops.end(), [](const Operation& o) { return o.onDevice; });
  if (op.onDevice && !std::all_of(ops.begin(), ops.end(),
                                  [](const Operation& o) { return o.onDevice || o.count == 0; }))
    throw CommError(ncclInvalidArgument, "a batch mixes host and device buffers");
  op.ops = std::move(ops);
  op.priority = priority;
  op.work = std::make_shared<Work::State>();
  op.work->bytes = bytes;
  Work work(op.work);
  native::ProgressEngine::instance().submit(*queue, std::move(op));
  last = work;
  return work;
}

Comm::Comm() = default;
Comm::Comm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Comm::Comm(Comm&&) noexcept = default;
Comm& Comm::operator=(Comm&&) noexcept = default;
Comm::~Comm() = default;

Comm Comm::fromUniqueId(const ncclUniqueId& id, int nranks, int rank) {
  ncclComm_t comm = nullptr;
  checkResult(ncclCommInitRank(&comm, nranks, id, rank), "ncclCommInitRank");
  return adopt(comm);
}

Comm Comm::adopt(ncclComm_t comm) {
  if (comm == nullptr) throw CommError(ncclInvalidArgument, "adopt: comm is NULL");
  return translated([&] { return Comm(std::make_unique<Impl>(comm)); });
}

int Comm::rank() const { return usable(impl_).handle->rank; }
int Comm::size() const { return usable(impl_).handle->nranks; }
ncclComm_t Comm::handle() const { return impl_ ? impl_->handle : nullptr; }

Comm Comm::split(int color, int key) const {
  Impl& impl = usable(impl_);
  // The split's set-up exchange runs on this thread over the parent's transport, which the
  // progress thread leaves alone once the queue is empty.
  impl.last.wait();
  ncclComm_t child = nullptr;
  checkResult(ncclCommSplit(impl.handle, color, key, &child, nullptr), "ncclCommSplit");
  if (child == nullptr) return Comm();
  return adopt(child);
}

namespace {

Work collective(const std::unique_ptr<Comm::Impl>& implPtr, Collective kind, const void* send,
                void* recv, size_t count, ncclDataType_t type, int op, int root,
                Priority priority) {
  Comm::Impl& impl = usable(implPtr);
  return translated([&] {
    Communicator& c = api::usableComm(impl.handle);
    Operation o =
        api::collectiveOperation(c, kind, send, recv, count, type, op, root, /*stream=*/nullptr);
    size_t bytes = count * dataTypeSize(o.type) * bufferShares(kind, c.size());
    return impl.submit({o}, bytes, priority);
  });
}

Operation peerOperation(Communicator& c, const PeerOp& p) {
  OperationKind kind = p.kind == PeerOp::Kind::Send ? OperationKind::Send : OperationKind::Recv;
  return api::pointToPointOperation(c, kind, p.buffer, p.count, p.type, p.peer, nullptr);
}

}  // namespace

Work Comm::allReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                     ncclRedOp_t op, Priority priority) {
  return collective(impl_, Collective::AllReduce, send, recv, count, type, op, 0, priority);
}

Work Comm::broadcast(const void* send, void* recv, size_t count, ncclDataType_t type, int root,
                     Priority priority) {
  return collective(impl_, Collective::Broadcast, send, recv, count, type, ncclSum, root, priority);
}

Work Comm::reduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                  int root, Priority priority) {
  return collective(impl_, Collective::Reduce, send, recv, count, type, op, root, priority);
}

Work Comm::allGather(const void* send, void* recv, size_t count, ncclDataType_t type,
                     Priority priority) {
  return collective(impl_, Collective::AllGather, send, recv, count, type, ncclSum, 0, priority);
}

Work Comm::reduceScatter(const void* send, void* recv, size_t count, ncclDataType_t type,
                         ncclRedOp_t op, Priority priority) {
  return collective(impl_, Collective::ReduceScatter, send, recv, count, type, op, 0, priority);
}

Work Comm::allToAll(const void* send, void* recv, size_t count, ncclDataType_t type,
                    Priority priority) {
  return collective(impl_, Collective::AllToAll, send, recv, count, type, ncclSum, 0, priority);
}

Work Comm::send(const void* buffer, size_t count, ncclDataType_t type, int peer,
                Priority priority) {
  PeerOp op{PeerOp::Kind::Send, peer, const_cast<void*>(buffer), count, type};
  return batch({&op, 1}, priority);
}

Work Comm::recv(void* buffer, size_t count, ncclDataType_t type, int peer, Priority priority) {
  PeerOp op{PeerOp::Kind::Recv, peer, buffer, count, type};
  return batch({&op, 1}, priority);
}

Work Comm::batch(std::span<const PeerOp> ops, Priority priority) {
  Impl& impl = usable(impl_);
  return translated([&] {
    Communicator& c = api::usableComm(impl.handle);
    std::vector<Operation> list;
    list.reserve(ops.size());
    size_t bytes = 0;
    for (const PeerOp& p : ops) {
      list.push_back(peerOperation(c, p));
      bytes += p.count * dataTypeSize(list.back().type);
    }
    return impl.submit(std::move(list), bytes, priority);
  });
}

void Comm::synchronize() { usable(impl_).last.wait(); }

void Comm::abort() { usable(impl_).communicator().abort(); }

}  // namespace prism
