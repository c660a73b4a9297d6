#include "core/direct_host.h"

#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "config/config.h"
#include "core/communicator.h"
#include "core/error.h"
#include "core/setup_channel.h"
#include "kernels/host/reduce.h"
#include "logging/log.h"

namespace prism {

namespace {

/// Bytes reduced per pass: small enough that the running result stays in L2.
constexpr size_t kChunkBytes = 256 * 1024;

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

bool implemented(Collective c) {
  return c == Collective::AllReduce || c == Collective::AllGather || c == Collective::Broadcast ||
         c == Collective::ReduceScatter || c == Collective::AllToAll;
}

}  // namespace

DirectHost::DirectHost(Communicator& comm, SetupChannel& setup)
    : comm_(comm), rank_(setup.rank()), size_(setup.size()) {
  int64_t min = config::getInt(config::Setting::DirectMinBytes);
  minBytes_ = min > 0 ? static_cast<size_t>(min) : 0;
  probe_ ^= static_cast<uint64_t>(getpid());
  allowPeerReads();
  struct Hello {
    int64_t pid;
    uint64_t probeAddress;
    uint64_t probeValue;
  };
  Hello mine{getpid(), reinterpret_cast<uint64_t>(&probe_), probe_};
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
    votes_.resize(size_);
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

void DirectHost::fetch(int q, void* local, uint64_t remote, size_t bytes) {
  if (bytes == 0) return;
  if (sameProcess_[q]) {
    // Forked processes share address layouts: equal addresses mean "same buffer" only
    // within one process.
    if (reinterpret_cast<uint64_t>(local) == remote) return;
    std::memcpy(local, reinterpret_cast<const void*>(remote), bytes);
    return;
  }
  if (!readProcess(pids_[q], local, remote, bytes)) {
    throw Error(ncclSystemError, "reading " + std::to_string(bytes) + " bytes from rank " +
                                     std::to_string(q) + " (pid " + std::to_string(pids_[q]) +
                                     ") failed: " + std::strerror(errno));
  }
}

void DirectHost::barrier() {
  uint8_t mine = 0;
  comm_.allGatherBytes(&mine, votes_.data(), 1);
}

void DirectHost::reduceSlice(const Operation& op, size_t inOffset, size_t outOffset, size_t count,
                             std::byte* out) {
  const size_t elem = dataTypeSize(op.type);
  const size_t chunkElems = kChunkBytes / elem;
  const Reduction& r = op.reduction;
  for (size_t pos = 0; pos < count; pos += chunkElems) {
    size_t n = std::min(chunkElems, count - pos);
    size_t offset = (inOffset + pos) * elem;
    for (int q = 0; q < size_; ++q) {
      const std::byte* src = nullptr;
      if (q == rank_ || sameProcess_[q]) {
        src = reinterpret_cast<const std::byte*>(peers_[q].in) + offset;
      } else {
        fetch(q, fetched_.data(), peers_[q].in + offset, n * elem);
        src = fetched_.data();
      }
      if (r.preMultiply) {
        kernels::scale(op.type, fetched_.data(), src, &peers_[q].scalar, n);
        src = fetched_.data();
      }
      if (q == 0) {
        std::memcpy(chunk_.data(), src, n * elem);
      } else {
        kernels::reduce(op.type, r.op, chunk_.data(), chunk_.data(), src, n);
      }
    }
    if (r.average) kernels::divide(op.type, chunk_.data(), chunk_.data(), size_, n);
    std::memcpy(out + (outOffset + pos) * elem, chunk_.data(), n * elem);
  }
}

void DirectHost::allReduce(const Operation& op) {
  const size_t elem = dataTypeSize(op.type);
  // Slices are whole cache lines, so no two ranks write the same line.
  const size_t unit = std::max<size_t>(1, 64 / elem);
  const size_t units = (op.count + unit - 1) / unit;
  auto sliceBegin = [&](int q) { return std::min(op.count, units * q / size_ * unit); };
  auto* out = static_cast<std::byte*>(op.recvbuff);
  size_t begin = sliceBegin(rank_), end = sliceBegin(rank_ + 1);
  reduceSlice(op, begin, begin, end - begin, out);
  barrier();  // every slice is reduced
  for (int q = 0; q < size_; ++q) {
    if (q == rank_) continue;
    size_t b = sliceBegin(q), e = sliceBegin(q + 1);
    fetch(q, out + b * elem, peers_[q].out + b * elem, (e - b) * elem);
  }
}

void DirectHost::run(const Operation& op) {
  Buffers mine{reinterpret_cast<uint64_t>(op.sendbuff), reinterpret_cast<uint64_t>(op.recvbuff), 0};
  const Reduction& r = op.reduction;
  std::memcpy(&mine.scalar, r.scalarSource ? r.scalarSource : r.scalar.data(),
              dataTypeSize(op.type));
  comm_.allGatherBytes(&mine, peers_.data(), sizeof(Buffers));  // every input is ready

  const size_t block = op.count * dataTypeSize(op.type);
  auto* out = static_cast<std::byte*>(op.recvbuff);
  switch (op.collective) {
    case Collective::AllReduce:
      allReduce(op);
      break;
    case Collective::ReduceScatter:
      reduceSlice(op, rank_ * op.count, 0, op.count, out);
      break;
    case Collective::AllGather:
      for (int q = 0; q < size_; ++q) fetch(q, out + q * block, peers_[q].in, block);
      break;
    case Collective::Broadcast:
      fetch(op.root, out, peers_[op.root].in, block);
      break;
    default:  // AllToAll
      for (int q = 0; q < size_; ++q)
        fetch(q, out + q * block, peers_[q].in + rank_ * block, block);
      break;
  }
  barrier();  // no peer still reads this rank's buffers
}

}  // namespace prism
