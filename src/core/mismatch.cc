#include "src/core/mismatch.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "transports/transport.h"

namespace prism {

namespace {

/// The longest reason an abandon notice carries.
constexpr size_t kReasonBytes = 1024;

}  // namespace

void announceAbandon(Transport& transport, uint64_t seq, ncclResult_t code,
                     const std::string& why) {
  OpFingerprint notice;
  notice.seq = seq;
  notice.kind = kAbandonedKind;
  notice.count = static_cast<uint64_t>(code);
  const uint64_t tag = tagOf(notice);
  for (int peer = 0; peer < transport.size(); ++peer) {
    if (peer == transport.rank()) continue;
    try {
      SendConnection& out = transport.sendTo(peer);
      std::span<std::byte> slot = out.acquire();
      if (slot.empty()) continue;
      const size_t n = std::max<size_t>(1, std::min({why.size(), slot.size(), kReasonBytes}));
      std::memset(slot.data(), 0, n);
      std::memcpy(slot.data(), why.data(), std::min(n, why.size()));
      out.commit(n, tag);
    } catch (const Error&) {
      // A peer whose link is gone cannot be told; it fails on its own.
    }
  }
}

void failMismatch(Transport& transport, const OpFingerprint& mine, int peer) {
  RecvConnection& in = transport.recvFrom(peer);
  const uint64_t theirs = in.tag();
  const std::string me = "rank " + std::to_string(transport.rank()) + ": " + describe(mine);
  if (tagKind(theirs) != kAbandonedKind) {
    throw Error(ncclInvalidUsage,
                me + " received from rank " + std::to_string(peer) + " a message of " +
                    describeTag(theirs, mine.seq) +
                    "; the ranks called different operations or passed different arguments");
  }
  std::span<const std::byte> text = in.peek();
  std::string why(reinterpret_cast<const char*>(text.data()), text.size());
  why.erase(std::find(why.begin(), why.end(), '\0'), why.end());
  // A peer's mismatch is this rank's too; any other failure of a peer is a remote error.
  const auto code = static_cast<ncclResult_t>(theirs >> 40);
  throw Error(code == ncclInvalidUsage ? ncclInvalidUsage : ncclRemoteError,
              me + " stopped: rank " + std::to_string(peer) + " gave up on it (" + why + ")");
}

void checkAbandoned(Transport& transport, const OpFingerprint& mine) {
  for (int peer = 0; peer < transport.size(); ++peer) {
    if (peer == transport.rank()) continue;
    RecvConnection& in = transport.recvFrom(peer);
    bool abandoned = false;
    try {
      uint64_t tag = 0;
      abandoned = in.arrivedTag(&tag) && tagKind(tag) == kAbandonedKind;
    } catch (const Error&) {
      // A broken link is reported by the step that waits on it.
    }
    if (abandoned) failMismatch(transport, mine, peer);
  }
}

}  // namespace prism
