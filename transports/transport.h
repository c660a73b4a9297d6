// The narrow interface every transport implements. A transport moves messages between
// this rank and its peers through per-peer, per-direction FIFOs of slots: the sender fills
// a free slot and commits it, the receiver peeks at the oldest filled slot and releases
// it. Messages between two ranks arrive in the order they were sent, each with the 64-bit
// tag its sender gave it (the engine names the operation a message belongs to there, so a
// receiver never consumes another operation's bytes). Optional abilities are capability
// flags, never methods that fail with "not implemented".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace prism {

class SetupChannel;

/// Optional abilities, as flags.
enum TransportCaps : uint32_t {
  kCapNone = 0,
  kCapPeerMemoryAccess = 1u << 0,  ///< can read/write a peer's registered memory directly
  kCapRdmaWrite = 1u << 1,
  kCapMulticast = 1u << 2,
  kCapInNetworkReduce = 1u << 3,
  /// Sends from and receives into memory given to registerMemory() without staging the
  /// bytes in slots (SendConnection::commitFrom, RecvConnection::receiveInto).
  kCapZeroCopy = 1u << 4,
};

/// The sending end of one FIFO toward one peer.
class SendConnection {
 public:
  virtual ~SendConnection() = default;
  /// A free slot to fill, or an empty span when all slots are in flight. Non-blocking.
  /// Calling it again before commit() returns the same slot.
  virtual std::span<std::byte> acquire() = 0;
  /// Publishes the first `bytes` bytes (1..slot size) of the acquired slot to the peer,
  /// with `tag`, which the receiver reads back unchanged (RecvConnection::tag).
  virtual void commit(size_t bytes, uint64_t tag) = 0;
  /// True when bulk data should be written into slots with streaming stores: the slots are
  /// read by another core, which on some CPUs fetches them faster from memory than from
  /// this core's cache.
  virtual bool streamingWrites() const { return false; }
  /// Instead of commit(): publishes `bytes` (1..slot size) at `data` as the acquired slot's
  /// message, sent straight from there, without copying them into the slot. Only where
  /// `data` lies in memory given to Transport::registerMemory() and the transport has
  /// kCapZeroCopy; returns false (and sends nothing) otherwise, and the caller fills the
  /// slot and commits as usual. The bytes must stay unchanged until borrowedSendsDone().
  virtual bool commitFrom(const std::byte* data, size_t bytes, uint64_t tag) { return false; }
  /// Whether every message sent with commitFrom() has left the caller's memory.
  /// Non-blocking.
  virtual bool borrowedSendsDone() { return true; }
};

/// The receiving end of one FIFO from one peer.
class RecvConnection {
 public:
  virtual ~RecvConnection() = default;
  /// The oldest unreleased message, or an empty span when none has arrived. Non-blocking.
  virtual std::span<const std::byte> peek() = 0;
  /// The tag the sender committed the message peek() returned with. Valid only after a
  /// peek() that returned a message, until release().
  virtual uint64_t tag() const = 0;
  /// Gives the slot returned by peek() back to the sender.
  virtual void release() = 0;
  /// Whether the oldest unreleased message is known to have come, with its tag in `*tag`,
  /// without moving its bytes anywhere: a transport that holds a message's bytes until it
  /// knows where they belong (receiveInto) keeps holding them. For looking at tags only
  /// (a peer's abandon notice), never for consuming a message.
  virtual bool arrivedTag(uint64_t* tag) {
    if (peek().empty()) return false;
    *tag = this->tag();
    return true;
  }
  /// A hint: the next messages from this peer that carry `tag`, `bytes` in all, belong at
  /// `dst` one after the other, and `dst` stays valid until they were released or the call
  /// ends (Transport::pauseProgress(CallEnd), which drops the hint). A transport may then
  /// read their bytes straight into `dst`, saving the copy out of a slot; peek() returns the
  /// span inside `dst` where such a message belongs. Messages that arrived before the hint
  /// stay in slots. Given only by the thread that drives progress(), before it releases
  /// any of them.
  virtual void receiveInto(std::byte* dst, size_t bytes, uint64_t tag) {}
};

/// Lets a waiting rank sleep until a peer changes one of its FIFOs, without lost wake-ups:
///   auto ticket = doorbell.arm();   // announce that we may sleep
///   if (!progressMade()) {          // progressMade() calls transport.progress()
///     transport.pauseProgress(ProgressPause::Sleep);
///     doorbell.wait(ticket, timeout);
///   }
///   doorbell.disarm();
class Doorbell {
 public:
  virtual ~Doorbell() = default;
  virtual uint32_t arm() = 0;
  /// Sleeps until rung after arm() returned `ticket`, or `timeout` passes.
  virtual void wait(uint32_t ticket, std::chrono::microseconds timeout) = 0;
  virtual void disarm() = 0;
};

/// Why a thread stops calling Transport::progress() for a while.
enum class ProgressPause {
  Sleep,    ///< it is about to sleep on the doorbell
  CallEnd,  ///< the call it waited in has returned
};

/// What a network transport's own stack says of the links between hosts (an NCCL network
/// plugin's getProperties, say), for the cost model; zero where it says nothing.
struct NetworkFigures {
  double bytesPerMicro = 0;  ///< one port's rate
  double latencyMicros = 0;  ///< one-way
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  virtual uint32_t caps() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Bytes one slot holds; every message is at most this long.
  virtual size_t slotBytes() const = 0;
  /// Slots per FIFO (per peer and direction).
  virtual int slotCount() const = 0;
  /// The FIFO to or from `peer` (0 <= peer < size(), peer != rank()).
  virtual SendConnection& sendTo(int peer) = 0;
  virtual RecvConnection& recvFrom(int peer) = 0;
  /// Advances transfers for transports that need a progress engine. Non-blocking. A
  /// transport may do its I/O here, from the waiting thread, rather than on a thread of
  /// its own; it then takes that I/O back from its own thread on the first call.
  virtual void progress() {}
  /// The thread that calls progress() stops for a while. A transport that does its I/O in
  /// progress() hands it to a thread of its own here whenever the doorbell must still ring
  /// (before a sleep) or bytes are left to move, so transfers never depend on a thread
  /// that is not in a call. Non-blocking.
  virtual void pauseProgress(ProgressPause) {}
  virtual Doorbell& doorbell() = 0;
  /// The network's own figures, the same for every peer between hosts; none by default.
  virtual NetworkFigures networkFigures() const { return {}; }
  /// Registers the caller's memory for zero-copy transfers (kCapZeroCopy): messages sent
  /// from it go without staging, and receiveInto() places messages straight into it.
  /// Returns a handle for deregisterMemory(), or null where the transport has no such
  /// ability (or refuses this memory). Called by the rank between calls.
  virtual void* registerMemory(void* data, size_t bytes) { return nullptr; }
  virtual void deregisterMemory(void* handle) {}
};

struct ShmTransportOptions {
  size_t slotBytes = 128 * 1024;
  int slotCount = 8;
  /// Senders write pieces of kernels::kStreamingSlotBytes or more with streaming stores.
  bool streamingSlots = false;
  /// Unique among live communicators on this host; the transport derives its shared
  /// memory object names from it.
  std::string name;
};

/// Builds the shared-memory transport among the ranks of `setup` (all on this host).
/// Collective over `setup`. Allocates and maps everything once; nothing per message.
std::unique_ptr<Transport> createShmTransport(SetupChannel& setup,
                                              const ShmTransportOptions& options);

}  // namespace prism
