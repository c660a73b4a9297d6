// The Collective enum (public, prism/collective.hpp) and what the engine asks of it.
#pragma once

#include "prism/collective.hpp"

namespace prism {

/// The collectives that have schedules: every enumerator before SendRecv. Arrays indexed
/// by Collective hold this many entries.
inline constexpr int kNumCollectives = static_cast<int>(Collective::SendRecv);

/// True for collectives whose result combines contributions with a reduction op.
bool isReduction(Collective c);
/// True for collectives with a root rank (Broadcast, Reduce, Gather, Scatter).
bool isRooted(Collective c);

}  // namespace prism
