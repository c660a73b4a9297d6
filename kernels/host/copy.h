// Copies into caller-owned memory that will not be read again soon. Streaming
// (non-temporal) stores write whole cache lines straight to memory, skipping the
// read-for-ownership of every destination line and the eviction of useful lines;
// into a large user buffer they beat memcpy (perf/RESULTS.md), but are slower when the
// data would have fit in cache.
#pragma once

#include <cstddef>

namespace prism::kernels {

/// Destination bytes from which a collective's output no longer stays in cache and
/// streaming stores pay off: outputs this large no longer stay in cache.
constexpr size_t kStreamingCopyBytes = size_t{4} << 20;

/// Pieces from which a sender that streams into FIFO slots does so; smaller ones are
/// latency-bound and go through the cache.
constexpr size_t kStreamingSlotBytes = size_t{64} << 10;

/// Whether this CPU is one on which writing FIFO slots with streaming stores measured
/// faster than plain stores: AMD family 1Ah (Zen 5) and later. Elsewhere (the earlier
/// EPYC VM) plain stores won, because the receiver reads a slot faster from the sender's
/// cache than from memory (perf/RESULTS.md).
bool streamingSlotsPay();

/// Copies `bytes` of `src` to both `a` and `b`, reading `src` once. Each destination is
/// written with streaming stores where its flag asks for them; one store fence at the end.
/// The executor uses it for a streamed FIFO slot plus the output: with a plain slot and a
/// streamed output the one pass measured slower than two (perf/RESULTS.md).
void copyToBoth(void* a, bool streamA, void* b, bool streamB, const void* src, size_t bytes);

/// memcpy(dst, src, bytes) with streaming stores for the 16-byte aligned middle of `dst`.
/// Ends with a store fence, so the bytes are visible to other threads in program order.
void copyStreaming(void* dst, const void* src, size_t bytes);

/// copyStreaming without the fence, for a caller that streams many small pieces: a fence
/// waits until every pending line has left for memory, so one per piece keeps the core
/// from loading the next piece meanwhile. Call fenceStreamingStores() before publishing.
void copyStreamingUnfenced(void* dst, const void* src, size_t bytes);
void fenceStreamingStores();

}  // namespace prism::kernels
