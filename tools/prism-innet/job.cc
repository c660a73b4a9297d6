#include "tools/prism-innet/job.h"

#include <algorithm>

#include "base/dtype.h"
#include "kernels/host/reduce.h"

namespace prism::innet {

Job::Job(std::string token, const HelloInfo& first)
    : token_(std::move(token)),
      nranks_(first.nranks),
      chunkBytes_(first.chunkBytes),
      window_(first.window),
      members_(static_cast<size_t>(first.nranks), nullptr),
      slots_(first.window),
      pool_(static_cast<size_t>(first.window) * static_cast<size_t>(first.nranks) *
            first.chunkBytes),
      created_(Clock::now()),
      lastProgress_(created_) {}

std::string Job::join(Connection* c, const HelloInfo& info) {
  if (info.nranks != nranks_ || info.chunkBytes != chunkBytes_ || info.window != window_) {
    return "rank " + std::to_string(info.rank) + " announced nranks " +
           std::to_string(info.nranks) + ", chunk " + std::to_string(info.chunkBytes) +
           ", window " + std::to_string(info.window) + " but the job has " +
           std::to_string(nranks_) + ", " + std::to_string(chunkBytes_) + ", " +
           std::to_string(window_);
  }
  if (info.rank < 0 || info.rank >= nranks_)
    return "rank " + std::to_string(info.rank) + " out of range";
  if (members_[info.rank] != nullptr) return "rank " + std::to_string(info.rank) + " joined twice";
  members_[info.rank] = c;
  ++joined_;
  ++present_;
  lastProgress_ = Clock::now();
  return "";
}

bool Job::leave(Connection* c) {
  for (Connection*& m : members_) {
    if (m != c) continue;
    m = nullptr;
    --present_;
  }
  return present_ == 0;
}

std::string Job::missingRanks() const {
  std::string out;
  for (int r = 0; r < nranks_; ++r) {
    if (members_[r] != nullptr) continue;
    if (!out.empty()) out += ", ";
    out += std::to_string(r);
  }
  return out;
}

std::byte* Job::buffer(uint64_t ticket, int rank) {
  size_t slot = ticket % window_;
  return pool_.data() +
         (slot * static_cast<size_t>(nranks_) + static_cast<size_t>(rank)) * chunkBytes_;
}

const std::byte* Job::result(uint64_t ticket) const {
  // Ranks are reduced into rank 0's buffer.
  size_t slot = ticket % window_;
  return pool_.data() + slot * static_cast<size_t>(nranks_) * chunkBytes_;
}

Job::Admit Job::admit(const Frame& f, int rank, std::byte** dst, std::string* error) {
  if (f.dtype >= kNumDataTypes || f.op > static_cast<uint8_t>(ReduceOp::Min)) {
    *error = "rank " + std::to_string(rank) + " sent an unknown type or operator";
    return Admit::Invalid;
  }
  size_t elem = dataTypeSize(static_cast<DataType>(f.dtype));
  if (f.bytes == 0 || f.bytes > chunkBytes_ || f.bytes % elem != 0) {
    *error = "rank " + std::to_string(rank) + " sent a chunk of " + std::to_string(f.bytes) +
             " bytes (limit " + std::to_string(chunkBytes_) + ", whole elements)";
    return Admit::Invalid;
  }
  if (present_ < nranks_) {
    *error = "rank " + std::to_string(rank) + " sent data after ranks " + missingRanks() +
             " left the job";
    return Admit::Invalid;
  }
  Slot& s = slotOf(f.ticket);
  if (s.busy && s.key.ticket != f.ticket) return Admit::Busy;
  if (!s.busy) {
    s.busy = true;
    s.key = f;
    s.key.type = FrameType::Result;
    s.arrived = 0;
    s.undelivered = 0;
  } else if (s.key.dtype != f.dtype || s.key.op != f.op || s.key.bytes != f.bytes ||
             s.key.sequence != f.sequence || s.key.chunk != f.chunk) {
    *error = "ranks disagree on chunk " + std::to_string(f.chunk) + " of collective " +
             std::to_string(f.sequence) + " (rank " + std::to_string(rank) +
             " sent a different type, operator or size)";
    return Admit::Invalid;
  }
  *dst = buffer(f.ticket, rank);
  return Admit::Ok;
}

bool Job::arrived(uint64_t ticket) {
  Slot& s = slotOf(ticket);
  if (++s.arrived < nranks_) return false;
  // Rank order, whatever order the contributions came in: the result does not depend on
  // timing, and integer results equal any other order's bit for bit.
  auto type = static_cast<DataType>(s.key.dtype);
  auto op = static_cast<ReduceOp>(s.key.op);
  size_t count = s.key.bytes / dataTypeSize(type);
  std::byte* acc = buffer(ticket, 0);
  for (int r = 1; r < nranks_; ++r) kernels::reduce(type, op, acc, acc, buffer(ticket, r), count);
  s.undelivered = nranks_;
  return true;
}

bool Job::delivered(uint64_t ticket) {
  Slot& s = slotOf(ticket);
  if (--s.undelivered > 0) return false;
  s.busy = false;
  return true;
}

bool Job::busy() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.busy; });
}

std::string Job::stallReason(Clock::time_point now, std::chrono::seconds timeout) const {
  if (now - lastProgress_ < timeout) return "";
  if (!complete()) return "ranks " + missingRanks() + " did not join";
  for (const Slot& s : slots_) {
    if (!s.busy) continue;
    if (s.arrived < nranks_) {
      return "chunk " + std::to_string(s.key.chunk) + " of collective " +
             std::to_string(s.key.sequence) + " has " + std::to_string(s.arrived) + " of " +
             std::to_string(nranks_) + " contributions";
    }
    return "a result of collective " + std::to_string(s.key.sequence) + " is not being read";
  }
  return "";
}

}  // namespace prism::innet
