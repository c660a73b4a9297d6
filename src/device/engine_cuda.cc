#include "src/device/engine_cuda.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"
#include "kernels/cuda/device_reduce.h"
#include "kernels/cuda/launch_config.h"
#include "src/core/path_context.h"

namespace prism::device {

namespace {

using cuda_ipc::check;

/// Makes `device` current for one scope and restores the caller's device after.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    cudaGetDevice(&previous_);
    if (previous_ != device) check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() {
    int now = -1;
    cudaGetDevice(&now);
    if (now != previous_) cudaSetDevice(previous_);
  }

 private:
  int previous_ = 0;
};

/// What every rank says about itself first.
struct Hello {
  int64_t pid;
  int32_t device;
  int32_t usable;
};

/// Then, when every rank can take part: how to reach its events and sync words.
struct Share {
  cuda_ipc::EventRef ready[kEventSlots];
  uint64_t sync;
};

/// A sender's buffer for one send (point-to-point).
struct SendRecord {
  int32_t slot;
  int32_t pad;
  uint64_t bytes;
  cuda_ipc::BufferRef buffer;
};

}  // namespace

/// One rank's buffers for one collective (stream-order mode).
struct CudaEngine::CollectiveRecord {
  int32_t slot;
  int32_t pad;
  cuda_ipc::BufferRef in;
  cuda_ipc::BufferRef out;
  cuda_ipc::BufferRef scalar;  ///< PreMulSum scalar in device memory
  uint64_t scalarBits;
};

std::unique_ptr<Engine> Engine::create(PathContext& comm, SetupChannel& setup) {
  return std::make_unique<CudaEngine>(comm, setup);
}

CudaEngine::CudaEngine(PathContext& comm, SetupChannel& setup)
    : comm_(comm), rank_(setup.rank()), size_(setup.size()), device_(comm.cudaDevice()) {
  setUp(setup);
}

void CudaEngine::setUp(SetupChannel& setup) {
  // Validated by the Communicator (in every build) before the engine exists.
  const std::string sync = config::getString(config::Setting::DeviceSync);
  int count = 0;
  bool present = available() && cudaGetDeviceCount(&count) == cudaSuccess;
  if (device_ < 0 && present) device_ = currentDevice();
  Hello mine{getpid(), device_, present && device_ >= 0 && device_ < count};
  std::vector<Hello> hellos(size_);
  setup.allGather(&mine, hellos.data(), sizeof(Hello));
  for (int r = 0; r < size_ && unusable_.empty(); ++r) {
    if (!hellos[r].usable) {
      unusable_ = "rank " + std::to_string(r) + " has no usable CUDA device (device " +
                  std::to_string(hellos[r].device) + ")";
    }
  }
  if (unusable_.empty() && size_ > kernels::kMaxDirectRanks) {
    unusable_ = "device buffers support communicators of up to " +
                std::to_string(kernels::kMaxDirectRanks) + " ranks";
  }
  if (!unusable_.empty()) return;  // every rank saw the same hellos and stops here too

  DeviceScope scope(device_);
  const bool oneProcess = std::all_of(hellos.begin(), hellos.end(),
                                      [&](const Hello& h) { return h.pid == hellos[0].pid; });
  flagMode_ = sync == "auto" && oneProcess;
  if (oneProcess) exporter_.keepInProcess();
  Share share{};
  for (int s = 0; s < kEventSlots; ++s) {
    ready_[s] = cuda_ipc::createSharedEvent();
    share.ready[s] = cuda_ipc::describe(ready_[s]);
  }
  // A peer records its release events on its own stream, which CUDA allows only for an
  // event of that stream's device: a peer thread's events are made on its device. (An
  // event opened from another process's handle belongs to the device current then.)
  released_.assign(static_cast<size_t>(size_) * kEventSlots, nullptr);
  std::vector<cuda_ipc::EventRef> releaseRefs(released_.size());
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    DeviceScope recorder(hellos[r].pid == mine.pid ? hellos[r].device : device_);
    for (int s = 0; s < kEventSlots; ++s) {
      cudaEvent_t& event = released_[r * kEventSlots + s];
      event = cuda_ipc::createSharedEvent();
      releaseRefs[r * kEventSlots + s] = cuda_ipc::describe(event);
    }
  }
  check(cudaEventCreateWithFlags(&lastEvent_, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaEventCreateWithFlags(&handoff_, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaStreamCreateWithFlags(&ownStream_, cudaStreamNonBlocking), "cudaStreamCreate");
  if (flagMode_) {
    check(cudaMalloc(reinterpret_cast<void**>(&sync_), sizeof(kernels::RankSync)),
          "cudaMalloc(sync words)");
    check(cudaMemset(sync_, 0, sizeof(kernels::RankSync)), "cudaMemset(sync words)");
    check(
        cudaHostAlloc(reinterpret_cast<void**>(&hostFlags_), 2 * sizeof(int), cudaHostAllocMapped),
        "cudaHostAlloc");
    hostFlags_[0] = hostFlags_[1] = 0;
    check(cudaHostGetDevicePointer(reinterpret_cast<void**>(&deviceFlags_), hostFlags_, 0),
          "cudaHostGetDevicePointer");
    share.sync = reinterpret_cast<uint64_t>(sync_);
  }
  std::vector<Share> shares(size_);
  setup.allGather(&share, shares.data(), sizeof(Share));
  std::vector<cuda_ipc::EventRef> allReleaseRefs(releaseRefs.size() * size_);
  setup.allGather(releaseRefs.data(), allReleaseRefs.data(),
                  releaseRefs.size() * sizeof(cuda_ipc::EventRef));

  peers_.resize(size_);
  peerSync_.resize(size_);
  records_.resize(size_);
  slots_.resize(size_);
  int onMyDevice = 0;
  for (int r = 0; r < size_; ++r) {
    Peer& p = peers_[r];
    p.sameProcess = hellos[r].pid == mine.pid;
    p.device = hellos[r].device;
    onMyDevice += p.device == device_;
    peerSync_[r] = reinterpret_cast<kernels::RankSync*>(shares[r].sync);
    if (r == rank_) continue;
    for (int s = 0; s < kEventSlots; ++s) {
      p.ready[s] = importer_.open(shares[r].ready[s], p.sameProcess);
      const auto& release = allReleaseRefs[(r * size_ + rank_) * kEventSlots + s];
      p.release[s] = importer_.open(release, p.sameProcess);
    }
    if (p.sameProcess && p.device != device_) {
      cudaError_t err = cudaDeviceEnablePeerAccess(p.device, 0);
      if (err == cudaErrorPeerAccessAlreadyEnabled)
        cudaGetLastError();
      else
        check(err, "cudaDeviceEnablePeerAccess");
    }
  }
  maxBlocks_ = kernels::directBlocks(device_, onMyDevice);
  log::info(log::kInit, "comm %s rank %d: device %d, %s, up to %d blocks per kernel",
            comm_.name().c_str(), rank_, device_,
            flagMode_ ? "one process: in-kernel flags (native API: CUDA events)"
                      : "several processes: CUDA IPC events",
            maxBlocks_);
}

CudaEngine::~CudaEngine() {
  if (!unusable_.empty()) return;
  cudaSetDevice(device_);
  for (cudaEvent_t event : ready_) cudaEventDestroy(event);
  for (cudaEvent_t event : released_) {
    if (event) cudaEventDestroy(event);
  }
  if (lastEvent_) cudaEventDestroy(lastEvent_);
  if (handoff_) cudaEventDestroy(handoff_);
  if (ownStream_) cudaStreamDestroy(ownStream_);
  if (sync_) cudaFree(sync_);
  if (hostFlags_) cudaFreeHost(hostFlags_);
  if (scratch_) cudaFree(scratch_);
  for (void* old : retired_) cudaFree(old);
}

bool CudaEngine::needsHostRendezvous(std::span<const Operation> ops, Launch launch) const {
  if (std::any_of(ops.begin(), ops.end(),
                  [](const Operation& op) { return op.kind != OperationKind::Collective; }))
    return true;
  return size_ > 1 && !waitsInKernel(launch, static_cast<cudaStream_t>(ops[0].stream));
}

bool CudaEngine::capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream, &capture), "cudaStreamIsCapturing");
  return capture != cudaStreamCaptureStatusNone;
}

// A flag-mode kernel spins until its peers' kernels run. Any thread of the process can
// hold a peer's kernel back behind it: CUDA orders work launched after a cudaMalloc,
// cudaFree or memset after everything launched before, and a copy from pageable memory
// can wait for staging buffers the driver shares between threads. NCCL's C API accepts
// that hazard (a call returns without its peers; no such CUDA call while a peer may not
// have launched yet), so Launch::Eager keeps the in-kernel waits. The native API's callers
// allocate, free and copy between collectives as a matter of course (the overlap hooks'
// buffers, a training step's matrix products): Launch::AfterPeers orders through events
// that every rank has already recorded when another waits on them, so no GPU work ever
// waits for work not yet enqueued. A captured graph replays without the host, so it keeps
// the in-kernel waits.
bool CudaEngine::waitsInKernel(Launch launch, cudaStream_t stream) const {
  return flagMode_ && size_ > 1 && (launch == Launch::Eager || capturing(stream));
}

ncclResult_t CudaEngine::asyncError() {
  if (hostFlags_ == nullptr) return ncclSuccess;
  volatile int* flags = hostFlags_;
  if (flags[1] != 0 && flags[0] == 0) return ncclSystemError;
  return ncclSuccess;
}

void CudaEngine::abort() {
  if (hostFlags_ != nullptr) static_cast<volatile int*>(hostFlags_)[0] = 1;
}

void CudaEngine::run(std::span<const Operation> ops, Launch launch) {
  prism::check(unusable_.empty(), ncclInvalidUsage, "device buffers cannot be used: " + unusable_);
  if (hostFlags_ != nullptr) {
    prism::check(static_cast<volatile int*>(hostFlags_)[1] == 0, ncclSystemError,
                 "an earlier device operation timed out or was aborted");
  }
  DeviceScope scope(device_);
  auto stream = static_cast<cudaStream_t>(ops[0].stream);
  auto caller = stream;
  const bool inKernel = waitsInKernel(launch, stream);
  if (inKernel && (stream == nullptr || stream == cudaStreamLegacy)) {
    check(cudaEventRecord(handoff_, caller), "cudaEventRecord(handoff)");
    check(cudaStreamWaitEvent(ownStream_, handoff_, 0), "cudaStreamWaitEvent(handoff)");
    stream = ownStream_;
  }
  const bool captured = capturing(stream);
  prism::check(!captured || inKernel || size_ == 1, ncclInvalidUsage,
               "CUDA graph capture needs every rank of the communicator in one process");
  if (!captured) orderAfterPrevious(stream);
  std::vector<Operation> p2p;
  for (const Operation& op : ops) {
    if (op.kind == OperationKind::Collective) {
      runCollective(op, stream, inKernel);
    } else {
      p2p.push_back(op);
    }
  }
  if (!p2p.empty()) {
    prism::check(!captured || size_ == 1, ncclInvalidUsage,
                 "send/recv on device buffers cannot be captured in a CUDA graph yet");
    runPointToPoint(p2p, stream);
  }
  // The event marks this operation for a later call on another stream; the stream itself
  // is not used again then, as the caller may have destroyed it.
  if (!captured) {
    check(cudaEventRecord(lastEvent_, stream), "cudaEventRecord");
    lastStream_ = stream;
  }
  if (caller != stream) check(cudaStreamWaitEvent(caller, lastEvent_, 0), "cudaStreamWaitEvent");
}

void CudaEngine::orderAfterPrevious(cudaStream_t stream) {
  // NCCL runs a communicator's operations in issue order even across streams.
  if (lastStream_ != nullptr && lastStream_ != stream) {
    check(cudaStreamWaitEvent(stream, lastEvent_, 0), "cudaStreamWaitEvent(previous operation)");
  }
}

int CudaEngine::blocksFor(size_t bytesPerRank) const {
  constexpr size_t kBytesPerBlock = size_t{16} * 2 * kernels::detail::kThreads;
  size_t wanted = (bytesPerRank + kBytesPerBlock - 1) / kBytesPerBlock;
  return static_cast<int>(std::clamp<size_t>(wanted, 1, static_cast<size_t>(maxBlocks_)));
}

void* CudaEngine::scratch(size_t bytes, cudaStream_t) {
  if (bytes > scratchBytes_) {
    // The old buffer is retired, not freed: cudaFree waits for the whole GPU, where peer
    // kernels may be waiting for this rank's next kernel. It grows by doubling, so few are.
    if (scratch_) retired_.push_back(scratch_);
    scratchBytes_ = std::max(bytes, 2 * scratchBytes_);
    scratch_ = nullptr;
    check(cudaMalloc(&scratch_, scratchBytes_), "cudaMalloc(scratch)");
  }
  return scratch_;
}

void CudaEngine::runCollective(const Operation& op, cudaStream_t stream, bool inKernelWaits) {
  if (op.count == 0) return;
  size_t elem = dataTypeSize(op.type);
  kernels::DirectArgs a;
  a.collective = op.collective;
  a.type = op.type;
  a.op = op.reduction.op;
  a.nranks = size_;
  a.rank = rank_;
  a.root = op.root;
  a.count = op.count;
  a.preMultiply = op.reduction.preMultiply;
  std::memcpy(&a.scalarBits[rank_], op.reduction.scalar.data(), sizeof(a.scalarBits[0]));
  if (op.reduction.scalarSource != nullptr) {
    if (sideOf(op.reduction.scalarSource) == Side::Device) {
      a.scalarPtr[rank_] = op.reduction.scalarSource;
    } else {
      std::memcpy(&a.scalarBits[rank_], op.reduction.scalarSource, elem);
    }
  }
  a.divisor = op.reduction.average ? size_ : 0;

  bool isRoot = op.root == rank_;
  const void* in = usesSendBuffer(op.collective, isRoot) ? op.sendbuff : nullptr;
  void* out = usesRecvBuffer(op.collective, isRoot) ? op.recvbuff : nullptr;
  size_t block = op.count * elem;
  if (op.collective == Collective::AllToAll && in == out && size_ > 1) {
    // Peers read this buffer while this rank overwrites it: give them a copy.
    void* copy = scratch(block * size_, stream);
    check(cudaMemcpyAsync(copy, in, block * size_, cudaMemcpyDeviceToDevice, stream),
          "cudaMemcpyAsync(alltoall input)");
    in = copy;
  }
  a.in[rank_] = in;
  a.out[rank_] = out;

  size_t work = block;
  if (op.collective == Collective::AllReduce || op.collective == Collective::Reduce)
    work = block / size_;
  if (op.collective == Collective::AllGather || op.collective == Collective::AllToAll)
    work = block * size_;
  int blocks = blocksFor(work);
  if (size_ == 1) return kernels::launchDirect(a, blocks, stream);
  if (inKernelWaits) {
    for (int r = 0; r < size_; ++r) a.sync[r] = peerSync_[r];
    a.abortFlag = deviceFlags_;
    a.failed = deviceFlags_ + 1;
    a.timeoutNs = static_cast<unsigned long long>(comm_.timeoutSeconds()) * 1000000000ull;
    a.systemScope = std::any_of(peers_.begin(), peers_.end(),
                                [&](const Peer& p) { return p.device != device_; });
    return kernels::launchDirect(a, blocks, stream);
  }
  bool exportIn =
      isReduction(op.collective) || op.collective == Collective::AllGather ||
      op.collective == Collective::AllToAll ||
      ((op.collective == Collective::Broadcast || op.collective == Collective::Scatter) && isRoot);
  bool exportOut =
      op.collective == Collective::AllReduce ||
      ((op.collective == Collective::Reduce || op.collective == Collective::Gather) && isRoot);
  launchOrdered(a, blocks, exportIn, exportOut, stream);
}

void CudaEngine::launchOrdered(kernels::DirectArgs& a, int blocks, bool exportIn, bool exportOut,
                               cudaStream_t stream) {
  int slot = static_cast<int>(slotCounter_++ % kEventSlots);
  check(cudaEventRecord(ready_[slot], stream), "cudaEventRecord(ready)");
  CollectiveRecord mine{};
  mine.slot = slot;
  if (exportIn) mine.in = exporter_.describe(a.in[rank_]);
  if (exportOut) mine.out = exporter_.describe(a.out[rank_]);
  if (a.scalarPtr[rank_] != nullptr) mine.scalar = exporter_.describe(a.scalarPtr[rank_]);
  mine.scalarBits = a.scalarBits[rank_];
  std::vector<CollectiveRecord>& all = records_;
  comm_.allGatherBytes(&mine, all.data(), sizeof(CollectiveRecord));
  for (int q = 0; q < size_; ++q) {
    if (q == rank_) continue;
    Peer& p = peers_[q];
    check(cudaStreamWaitEvent(stream, p.ready[all[q].slot], 0), "cudaStreamWaitEvent(peer ready)");
    a.in[q] = static_cast<const void*>(importer_.open(all[q].in, p.sameProcess));
    a.out[q] = importer_.open(all[q].out, p.sameProcess);
    a.scalarPtr[q] = importer_.open(all[q].scalar, p.sameProcess);
    a.scalarBits[q] = all[q].scalarBits;
  }
  kernels::launchDirect(a, blocks, stream);
  for (int q = 0; q < size_; ++q) {
    if (q != rank_)
      check(cudaEventRecord(peers_[q].release[all[q].slot], stream), "cudaEventRecord(release)");
  }
  // Once every peer has recorded its release (this allgather is a barrier), this rank's
  // stream waits for them: the caller may reuse its buffers after work it queues next.
  comm_.allGatherBytes(&mine.slot, slots_.data(), sizeof(int32_t));
  for (int q = 0; q < size_; ++q) {
    if (q != rank_) {
      check(cudaStreamWaitEvent(stream, released_[q * kEventSlots + slot], 0),
            "cudaStreamWaitEvent(peer released)");
    }
  }
}

void CudaEngine::runPointToPoint(std::span<const Operation> ops, cudaStream_t stream) {
  std::vector<const Operation*> sends, recvs, selfSends, selfRecvs;
  for (const Operation& op : ops) {
    if (op.count == 0) continue;
    bool self = op.peer == rank_;
    if (op.kind == OperationKind::Send) (self ? selfSends : sends).push_back(&op);
    if (op.kind == OperationKind::Recv) (self ? selfRecvs : recvs).push_back(&op);
  }
  prism::check(selfSends.size() == selfRecvs.size(), ncclInvalidUsage,
               "a send to self needs a matching receive from self in the same group");

  // A send buffer this group also receives into is overwritten while the peer reads it:
  // the peer reads a copy instead.
  auto bytesOf = [](const Operation* op) { return op->count * dataTypeSize(op->type); };
  auto overlapsRecv = [&](const Operation* send) {
    auto* begin = static_cast<const char*>(send->sendbuff);
    for (const auto* list : {&recvs, &selfRecvs}) {
      for (const Operation* recv : *list) {
        auto* r = static_cast<const char*>(recv->recvbuff);
        if (begin < r + bytesOf(recv) && r < begin + bytesOf(send)) return true;
      }
    }
    return false;
  };
  std::vector<const void*> sources(sends.size());
  size_t staged = 0;
  for (size_t i = 0; i < sends.size(); ++i) {
    if (overlapsRecv(sends[i])) staged += (bytesOf(sends[i]) + 255) & ~size_t{255};
  }
  char* stage = staged > 0 ? static_cast<char*>(scratch(staged, stream)) : nullptr;
  for (size_t i = 0; i < sends.size(); ++i) {
    sources[i] = sends[i]->sendbuff;
    if (!overlapsRecv(sends[i])) continue;
    check(cudaMemcpyAsync(stage, sends[i]->sendbuff, bytesOf(sends[i]), cudaMemcpyDeviceToDevice,
                          stream),
          "cudaMemcpyAsync(stage send)");
    sources[i] = stage;
    stage += (bytesOf(sends[i]) + 255) & ~size_t{255};
  }

  for (size_t i = 0; i < selfSends.size(); ++i) {
    size_t bytes = selfSends[i]->count * dataTypeSize(selfSends[i]->type);
    check(cudaMemcpyAsync(selfRecvs[i]->recvbuff, selfSends[i]->sendbuff, bytes,
                          cudaMemcpyDeviceToDevice, stream),
          "cudaMemcpyAsync(self send/recv)");
  }
  if (sends.empty() && recvs.empty()) return;

  int slot = static_cast<int>(slotCounter_++ % kEventSlots);
  check(cudaEventRecord(ready_[slot], stream), "cudaEventRecord(ready)");
  std::vector<SendRecord> outgoing(sends.size()), incoming(recvs.size());
  std::vector<Operation> messages;
  auto message = [&](OperationKind kind, int peer, void* data, size_t bytes) {
    Operation m;
    m.kind = kind;
    m.peer = peer;
    m.sendbuff = data;
    m.recvbuff = data;
    m.count = bytes;
    m.type = DataType::Uint8;
    messages.push_back(m);
  };
  for (size_t i = 0; i < sends.size(); ++i) {
    outgoing[i] = {slot, 0, bytesOf(sends[i]), exporter_.describe(sources[i])};
    message(OperationKind::Send, sends[i]->peer, &outgoing[i], sizeof(SendRecord));
  }
  for (size_t i = 0; i < recvs.size(); ++i)
    message(OperationKind::Recv, recvs[i]->peer, &incoming[i], sizeof(SendRecord));
  comm_.run(messages);

  for (size_t i = 0; i < recvs.size(); ++i) {
    const Operation& op = *recvs[i];
    size_t bytes = op.count * dataTypeSize(op.type);
    prism::check(incoming[i].bytes == bytes, ncclInvalidUsage,
                 "recv from rank " + std::to_string(op.peer) + " expects " + std::to_string(bytes) +
                     " bytes but the matching send has " + std::to_string(incoming[i].bytes));
    Peer& p = peers_[op.peer];
    check(cudaStreamWaitEvent(stream, p.ready[incoming[i].slot], 0), "cudaStreamWaitEvent(sender)");
    kernels::launchCopy(op.recvbuff, importer_.open(incoming[i].buffer, p.sameProcess), bytes,
                        stream);
  }
  // Each receiver records the release event its sender set aside for it, then says so; the
  // sender's stream then waits for its own event.
  for (size_t i = 0; i < recvs.size(); ++i) {
    check(cudaEventRecord(peers_[recvs[i]->peer].release[incoming[i].slot], stream),
          "cudaEventRecord(release)");
  }
  messages.clear();
  std::vector<int32_t> acks(sends.size()), mine(recvs.size(), 1);
  for (size_t i = 0; i < recvs.size(); ++i)
    message(OperationKind::Send, recvs[i]->peer, &mine[i], sizeof(int32_t));
  for (size_t i = 0; i < sends.size(); ++i)
    message(OperationKind::Recv, sends[i]->peer, &acks[i], sizeof(int32_t));
  comm_.run(messages);
  for (size_t i = 0; i < sends.size(); ++i) {
    check(cudaStreamWaitEvent(stream, released_[sends[i]->peer * kEventSlots + slot], 0),
          "cudaStreamWaitEvent(receiver released)");
  }
}

}  // namespace prism::device
