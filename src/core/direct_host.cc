#include "src/core/direct_host.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/setup_channel.h"
#include "kernels/host/copy.h"
#include "kernels/host/reduce.h"
#include "src/core/mismatch.h"
#include "src/core/path_context.h"
#include "transports/transport.h"

namespace prism {

namespace {

/// Bytes reduced per pass when some input is read by cross-memory attach (one system
/// call per pass): small enough that the running result stays in L2.
constexpr size_t kChunkBytes = 256 * 1024;
/// The same when every input is addressable, the outputs are streamed and the ranks do
/// not outnumber the CPUs. A pass reads the inputs and then streams the result out; in
/// small passes, with one store fence per slice rather than per copy, the core loads the
/// next inputs while the last result's lines drain to memory, so reads and writes
/// overlap (gain measured in perf/RESULTS.md, "direct host path"). Outputs that stay in
/// cache gain nothing and lose to the calls per pass, and oversubscribed ranks lose too,
/// so only outputs that are streamed by ranks with cores of their own use it.
constexpr size_t kStreamedChunkBytes = 4 * 1024;

/// PRISM_DIRECT_MIN_BYTES=-1 (automatic) between threads of one process: below this the
/// FIFO plans' latency (one slot, no barriers) wins when both ranks own a core; from it
/// the direct path wins at every size measured (perf/RESULTS.md).
constexpr size_t kThreadsMinBytes = 4096;
/// Automatic between processes: calls from this size exchange their buffers' addresses
/// and take the path only if every rank's buffers are mappable: ncclMemAlloc memory, or
/// shared memory registered with ncclCommRegister (cross-memory attach loses to the FIFO
/// plans). Large enough that the exchange, wasted on malloc'ed buffers, is a small share
/// of the call.
constexpr size_t kProcessesMinBytes = size_t{4} << 20;

/// Reads `bytes` at `remote` in process `pid`; false (errno set) if the kernel refuses.
bool readProcess(pid_t pid, void* local, uint64_t remote, size_t bytes) {
  auto* dst = static_cast<std::byte*>(local);
  while (bytes > 0) {
    iovec l{dst, bytes};
    iovec r{reinterpret_cast<void*>(remote), bytes};
    ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    dst += n;
    remote += static_cast<uint64_t>(n);
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

/// With Yama's ptrace_scope 1 only ancestors may read a process; ranks are siblings, so
/// each rank lets its peers in. Scope 2 and 3 forbid it; access is then probed and fails.
void allowPeerReads() {
  std::string scope;
  std::ifstream("/proc/sys/kernel/yama/ptrace_scope") >> scope;
  if (scope == "1") prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
}

/// memcpy, or streaming stores when `stream` (outputs too large to stay in cache).
void put(void* dst, const void* src, size_t bytes, bool stream) {
  if (stream) {
    kernels::copyStreaming(dst, src, bytes);
  } else {
    std::memcpy(dst, src, bytes);
  }
}

/// True when an output of `bytes` is written with streaming stores.
bool streams(size_t bytes) { return bytes >= kernels::kStreamingCopyBytes; }

bool implemented(Collective c) {
  return c == Collective::AllReduce || c == Collective::AllGather || c == Collective::Broadcast ||
         c == Collective::ReduceScatter || c == Collective::AllToAll;
}

}  // namespace

DirectHost::DirectHost(PathContext& comm, SetupChannel& setup)
    : comm_(comm), rank_(setup.rank()), size_(setup.size()) {
  probe_ ^= static_cast<uint64_t>(getpid());
  allowPeerReads();
  struct Hello {
    int64_t pid;
    uint64_t probeAddress;
    uint64_t probeValue;
    uint64_t mailbox;
  };
  Hello mine{getpid(), reinterpret_cast<uint64_t>(&probe_), probe_,
             reinterpret_cast<uint64_t>(mailbox_.get())};
  std::vector<Hello> all(size_);
  setup.allGather(&mine, all.data(), sizeof(Hello));
  pids_.resize(size_);
  sameProcess_.resize(size_);
  int32_t reachable = 1;
  for (int q = 0; q < size_; ++q) {
    pids_[q] = static_cast<pid_t>(all[q].pid);
    sameProcess_[q] = all[q].pid == mine.pid;
    if (q == rank_ || sameProcess_[q]) continue;
    uint64_t value = 0;
    if (!readProcess(pids_[q], &value, all[q].probeAddress, sizeof(value)) ||
        value != all[q].probeValue) {
      reachable = 0;
    }
  }
  oneProcess_ = std::all_of(sameProcess_.begin(), sameProcess_.end(), [](bool b) { return b; });
  if (oneProcess_) {
    // Every owner is still inside this constructor (the allgather below needs it), so
    // its mailbox is alive while this rank takes a share of it.
    for (const Hello& h : all) {
      mailboxes_.push_back(reinterpret_cast<Mailbox*>(h.mailbox)->shared_from_this());
    }
  }
  const int64_t min = config::getInt(config::Setting::DirectMinBytes);
  if (min >= 0) {
    minBytes_ = static_cast<size_t>(min);
  } else if (config::getString(config::Setting::Algo).empty()) {
    // Automatic; a forced algorithm keeps the FIFO plans.
    minBytes_ = oneProcess_ ? kThreadsMinBytes : kProcessesMinBytes;
    mappedOnly_ = !oneProcess_;
  }
  std::vector<int32_t> votes(size_);
  setup.allGather(&reachable, votes.data(), sizeof(int32_t));
  // Ranks on other hosts (or other network namespaces, emulated hosts) do not share
  // memory, even where cross-memory attach could technically reach them.
  const std::vector<int>& hosts = comm_.hostOf();
  const bool oneHost = std::all_of(hosts.begin(), hosts.end(), [](int h) { return h == 0; });
  usable_ = size_ > 1 && minBytes_ > 0 && oneHost &&
            std::all_of(votes.begin(), votes.end(), [](int32_t v) { return v != 0; });
  if (usable_) {
    chunk_.resize(kChunkBytes);
    fetched_.resize(kChunkBytes);
    peers_.resize(size_);
    mask_.resize((size_ + 7) / 8);
    masks_.resize(mask_.size() * size_);
    local_.resize(size_);
  }
  log::info(log::kInit, "comm %s rank %d: direct host path %s (calls from %zu bytes)",
            comm_.name().c_str(), rank_, usable_ ? "on" : "off", minBytes_);
}

bool DirectHost::eligible(const Operation& op) const {
  if (!usable_ || op.kind != OperationKind::Collective || op.onDevice || op.members != nullptr ||
      !implemented(op.collective)) {
    return false;
  }
  // In-place alltoall would overwrite blocks a peer has yet to read.
  if (op.collective == Collective::AllToAll && op.sendbuff == op.recvbuff) return false;
  return op.count * dataTypeSize(op.type) >= minBytes_;
}

void DirectHost::fetch(int q, void* local, uint64_t remote, size_t bytes, bool stream) {
  if (bytes == 0) return;
  if (local_[q]) {
    // Forked processes share address layouts: equal addresses mean "same buffer" only
    // within one process (peers_ holds addresses in this process).
    if (reinterpret_cast<uint64_t>(local) == remote) return;
    put(local, reinterpret_cast<const void*>(remote), bytes, stream);
    return;
  }
  if (!readProcess(pids_[q], local, remote, bytes)) {
    if (errno == ESRCH) {
      throw Error(ncclRemoteError,
                  "rank " + std::to_string(q) + " (pid " + std::to_string(pids_[q]) + ") is gone");
    }
    throw Error(ncclSystemError, "reading " + std::to_string(bytes) + " bytes from rank " +
                                     std::to_string(q) + " (pid " + std::to_string(pids_[q]) +
                                     ") failed: " + std::strerror(errno));
  }
}

void DirectHost::waitFor(const Operation& op, int q, uint64_t count) {
  const std::atomic<uint64_t>& reached = mailboxes_[q]->reached;
  for (int64_t i = 0; i < comm_.spinCount(); ++i) {
    if (reached.load(std::memory_order_acquire) >= count) return;
  }
  // Oversubscribed ranks must hand the core to the peer they wait for: yield, then nap.
  const auto start = std::chrono::steady_clock::now();
  const auto timeout = std::chrono::seconds(comm_.timeoutSeconds());
  for (int i = 0; reached.load(std::memory_order_acquire) < count; ++i) {
    if (i < 64) {
      sched_yield();
      continue;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
    if (comm_.aborted()) throw Error(ncclInvalidUsage, "communicator " + comm_.name() + " aborted");
    // q posts its barriers here before it sends anything on the FIFOs, so a message from q
    // while q has not reached this barrier belongs to an operation q runs on the FIFOs.
    RecvConnection& fifo = comm_.transport().recvFrom(q);
    if (!fifo.peek().empty() && reached.load(std::memory_order_acquire) < count)
      failMismatch(comm_.transport(), fingerprint_, q);
    if (std::chrono::steady_clock::now() - start > timeout) {
      throw Error(ncclSystemError, "comm " + comm_.name() + " rank " + std::to_string(rank_) +
                                       ": direct " + collectiveName(op.collective) +
                                       " timed out waiting for rank " + std::to_string(q));
    }
  }
}

void DirectHost::barrier(const Operation& op, const std::vector<uint8_t>& mask) {
  if (!oneProcess_) {
    if (mask.empty()) std::fill(mask_.begin(), mask_.end(), 0);
    comm_.allGatherBytes(mask.empty() ? mask_.data() : mask.data(), masks_.data(), mask_.size(),
                         &fingerprint_);
    return;
  }
  // Ranks pass the same sequence of barriers, so counts match; release publishes every
  // store this rank made before (outputs written, buffers posted) to the peers' acquire.
  const uint64_t count = mailbox_->reached.load(std::memory_order_relaxed) + 1;
  mailbox_->reached.store(count, std::memory_order_release);
  for (int q = 0; q < size_; ++q) {
    if (q != rank_) waitFor(op, q, count);
  }
}

void DirectHost::exchangeBuffers(const Operation& op, const Buffers& mine) {
  if (!oneProcess_) {
    comm_.allGatherBytes(&mine, peers_.data(), sizeof(Buffers), &fingerprint_);
  } else {
    // A peer rewrites its mailbox only after the barrier that ends this call, which this
    // rank reaches after copying it.
    mailbox_->buffers = mine;
    barrier(op);
    for (int q = 0; q < size_; ++q) peers_[q] = mailboxes_[q]->buffers;
  }
  // Every rank sees the same fingerprints, so all of them fail here or none does.
  for (int q = 0; q < size_; ++q) {
    if (peers_[q].fingerprint == mine.fingerprint) continue;
    throw Error(ncclInvalidUsage, "rank " + std::to_string(rank_) + ": direct " +
                                      describe(mine.fingerprint) + " does not match rank " +
                                      std::to_string(q) + "'s " + describe(peers_[q].fingerprint) +
                                      "; the ranks called different operations or passed "
                                      "different arguments");
  }
}

const std::byte* DirectHost::input(const Operation& op, int q, size_t offset, size_t bytes) {
  const std::byte* src = nullptr;
  if (local_[q]) {
    src = reinterpret_cast<const std::byte*>(peers_[q].in) + offset;
  } else {
    fetch(q, fetched_.data(), peers_[q].in + offset, bytes, false);
    src = fetched_.data();
  }
  if (op.reduction.preMultiply) {
    kernels::scale(op.type, fetched_.data(), src, &peers_[q].scalar, bytes / dataTypeSize(op.type));
    src = fetched_.data();
  }
  return src;
}

void DirectHost::reduceSlice(const Operation& op, size_t inOffset, size_t count,
                             std::span<std::byte* const> targets, bool stream) {
  const size_t elem = dataTypeSize(op.type);
  const bool allLocal = std::all_of(local_.begin(), local_.end(), [](bool l) { return l; });
  const bool small = stream && allLocal && !comm_.oversubscribed();
  const size_t chunkElems = (small ? kStreamedChunkBytes : kChunkBytes) / elem;
  const Reduction& r = op.reduction;
  for (size_t pos = 0; pos < count; pos += chunkElems) {
    const size_t n = std::min(chunkElems, count - pos);
    const size_t offset = (inOffset + pos) * elem;
    // Rank 0's chunk, read in place by the first reduction instead of copied to chunk_.
    const std::byte* first = input(op, 0, offset, n * elem);
    if (first == fetched_.data()) {
      std::memcpy(chunk_.data(), first, n * elem);
      first = chunk_.data();
    }
    for (int q = 1; q < size_; ++q) {
      const std::byte* src = input(op, q, offset, n * elem);
      kernels::reduce(op.type, r.op, chunk_.data(), q == 1 ? first : chunk_.data(), src, n);
    }
    if (r.average) kernels::divide(op.type, chunk_.data(), chunk_.data(), size_, n);
    for (std::byte* out : targets) {
      if (small)
        kernels::copyStreamingUnfenced(out + pos * elem, chunk_.data(), n * elem);
      else
        put(out + pos * elem, chunk_.data(), n * elem, stream);
    }
  }
  // Small passes: one fence for the slice, before the barrier publishes the outputs.
  if (small) kernels::fenceStreamingStores();
}

void DirectHost::allReduce(const Operation& op) {
  const size_t elem = dataTypeSize(op.type);
  // Slices are whole cache lines, so no two ranks write the same line.
  const size_t unit = std::max<size_t>(1, 64 / elem);
  const size_t units = (op.count + unit - 1) / unit;
  auto sliceBegin = [&](int q) { return std::min(op.count, units * q / size_ * unit); };
  const size_t begin = sliceBegin(rank_), end = sliceBegin(rank_ + 1);
  // The reduced slice goes straight into the output of every rank whose output this rank
  // can address: each output line is written once, by one rank, and never read back. The
  // barrier tells each rank which slices it still has to fetch from their owners.
  targets_.clear();
  std::fill(mask_.begin(), mask_.end(), 0);
  for (int q = 0; q < size_; ++q) {
    if (!local_[q]) continue;
    targets_.push_back(reinterpret_cast<std::byte*>(peers_[q].out) + begin * elem);
    mask_[q / 8] |= static_cast<uint8_t>(1u << (q % 8));
  }
  reduceSlice(op, begin, end - begin, targets_, streams(op.count * elem));
  barrier(op, mask_);  // every slice is reduced
  if (oneProcess_) return;
  auto* out = static_cast<std::byte*>(op.recvbuff);
  for (int q = 0; q < size_; ++q) {
    const uint8_t* written = masks_.data() + q * mask_.size();
    if (written[rank_ / 8] & (1u << (rank_ % 8))) continue;
    size_t b = sliceBegin(q), e = sliceBegin(q + 1);
    fetch(q, out + b * elem, peers_[q].out + b * elem, (e - b) * elem, false);
  }
}

std::byte* DirectHost::mapped(int q, const Share& share) {
  for (const Mapping& m : mappings_) {
    if (m.rank == q && m.id == share.id) return m.base;
  }
  // The peer's memfd is taken through a pidfd: the same ptrace permission as cross-memory
  // attach, which the constructor probed.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pids_[q], 0));
  if (pidfd < 0) return nullptr;
  int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, static_cast<int>(share.fd), 0));
  close(pidfd);
  if (fd < 0) return nullptr;
  void* p = mmap(nullptr, share.bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                 static_cast<off_t>(share.fileOffset));
  close(fd);
  if (p == MAP_FAILED) return nullptr;
  mappings_.push_back({q, share.id, static_cast<std::byte*>(p), share.bytes});
  log::info(log::kInit, "comm %s rank %d: mapped %zu bytes of rank %d's shareable memory",
            comm_.name().c_str(), rank_, static_cast<size_t>(share.bytes), q);
  return static_cast<std::byte*>(p);
}

bool DirectHost::mapPeer(int q) {
  Buffers& b = peers_[q];
  if (b.inShare.id == 0 || b.outShare.id == 0) return false;
  std::byte* in = mapped(q, b.inShare);
  std::byte* out = in == nullptr ? nullptr : mapped(q, b.outShare);
  if (out == nullptr) return false;
  b.in = reinterpret_cast<uint64_t>(in + b.inShare.offset);
  b.out = reinterpret_cast<uint64_t>(out + b.outShare.offset);
  return true;
}

DirectHost::Share DirectHost::share(const void* p, size_t bytes) {
  auto region = shared_host_memory::find(p, bytes);
  if (!region) return {};
  return {region->fd, region->id, region->offset, region->bytes, region->fileOffset};
}

DirectHost::~DirectHost() {
  for (const Mapping& m : mappings_) munmap(m.base, m.bytes);
}

void DirectHost::run(const Operation& op) {
  fingerprint_ = fingerprintOf(op, comm_.nextCollectiveSeq());
  Buffers mine{fingerprint_,
               reinterpret_cast<uint64_t>(op.sendbuff),
               reinterpret_cast<uint64_t>(op.recvbuff),
               0,
               {},
               {}};
  const Reduction& r = op.reduction;
  std::memcpy(&mine.scalar, r.scalarSource ? r.scalarSource : r.scalar.data(),
              dataTypeSize(op.type));
  if (!oneProcess_) {
    const size_t bytes = op.count * dataTypeSize(op.type);
    const size_t inBytes =
        op.collective == Collective::AllToAll || op.collective == Collective::ReduceScatter
            ? bytes * size_
            : bytes;
    const size_t outBytes =
        op.collective == Collective::AllGather || op.collective == Collective::AllToAll
            ? bytes * size_
            : bytes;
    mine.inShare = share(op.sendbuff, inBytes);
    mine.outShare = share(op.recvbuff, outBytes);
  }
  exchangeBuffers(op, mine);  // every input is ready
  // Every rank sees the same peers_, so all take the same branch.
  if (mappedOnly_ && !std::all_of(peers_.begin(), peers_.end(), [](const Buffers& b) {
        return b.inShare.id != 0 && b.outShare.id != 0;
      })) {
    comm_.run({&op, 1});
    return;
  }
  for (int q = 0; q < size_; ++q) {
    local_[q] = q == rank_ || sameProcess_[q] || mapPeer(q);
  }

  const size_t block = op.count * dataTypeSize(op.type);
  auto* out = static_cast<std::byte*>(op.recvbuff);
  switch (op.collective) {
    case Collective::AllReduce:
      allReduce(op);
      break;
    case Collective::ReduceScatter: {
      std::byte* const target = out;
      reduceSlice(op, rank_ * op.count, op.count, {&target, 1}, streams(block));
      break;
    }
    case Collective::AllGather: {
      const bool stream = streams(block * size_);
      for (int q = 0; q < size_; ++q) fetch(q, out + q * block, peers_[q].in, block, stream);
      break;
    }
    case Collective::Broadcast:
      fetch(op.root, out, peers_[op.root].in, block, streams(block));
      break;
    default: {  // AllToAll
      const bool stream = streams(block * size_);
      for (int q = 0; q < size_; ++q)
        fetch(q, out + q * block, peers_[q].in + rank_ * block, block, stream);
      break;
    }
  }
  barrier(op);  // no peer still reads or writes this rank's buffers
}

}  // namespace prism
