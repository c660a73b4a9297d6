// One job of the aggregation service: the ranks of one communicator, and the pool of
// chunk slots their contributions are reduced in. Pure bookkeeping, no I/O: the event
// loop (service.cc) moves bytes and asks the job what to do with them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "transports/in_network/in_network_protocol.h"

namespace prism::innet {

struct Connection;
using Clock = std::chrono::steady_clock;

class Job {
 public:
  /// A job as its first rank announces it; the pool is allocated here, once.
  Job(std::string token, const HelloInfo& first);

  const std::string& token() const { return token_; }
  int nranks() const { return nranks_; }
  uint32_t window() const { return window_; }
  /// Registers `c` as rank info.rank. Returns an error text ("" on success).
  std::string join(Connection* c, const HelloInfo& info);
  /// `c` leaves; returns true when the job has no members left.
  bool leave(Connection* c);
  bool complete() const { return joined_ == nranks_; }
  Connection* member(int rank) const { return members_[rank]; }
  /// Ranks that have not joined yet, e.g. "1, 3".
  std::string missingRanks() const;

  enum class Admit { Ok, Busy, Invalid };
  /// A Chunk header from `rank`: where its payload goes (*dst), or Busy when its slot
  /// still holds an older chunk (the sender must wait: backpressure), or Invalid with
  /// *error set.
  Admit admit(const Frame& f, int rank, std::byte** dst, std::string* error);
  /// The payload of `ticket` from one rank has arrived. True when it was the last one:
  /// the chunk is then reduced (in rank order) and its result is ready to send.
  bool arrived(uint64_t ticket);
  /// The header and payload of the result of `ticket`.
  const Frame& resultHeader(uint64_t ticket) const { return slotOf(ticket).key; }
  const std::byte* result(uint64_t ticket) const;
  /// The result of `ticket` reached one rank. True when it reached all: the slot is free.
  bool delivered(uint64_t ticket);
  /// True while some chunk is partly received or partly delivered.
  bool busy() const;
  /// Why the job is stuck if it made no progress since `timeout` ago, else "".
  std::string stallReason(Clock::time_point now, std::chrono::seconds timeout) const;
  void touch(Clock::time_point now) { lastProgress_ = now; }

 private:
  struct Slot {
    Frame key;          ///< the first contribution's header, becomes the result header
    bool busy = false;  ///< holds chunk key.ticket
    int arrived = 0;
    int undelivered = 0;
  };
  Slot& slotOf(uint64_t ticket) { return slots_[ticket % window_]; }
  const Slot& slotOf(uint64_t ticket) const { return slots_[ticket % window_]; }
  std::byte* buffer(uint64_t ticket, int rank);

  std::string token_;
  int nranks_;
  uint32_t chunkBytes_;
  uint32_t window_;
  int joined_ = 0;
  int present_ = 0;  ///< members still connected
  std::vector<Connection*> members_;
  std::vector<Slot> slots_;
  std::vector<std::byte> pool_;  ///< window x nranks x chunkBytes, allocated once
  Clock::time_point created_;
  Clock::time_point lastProgress_;
};

}  // namespace prism::innet
