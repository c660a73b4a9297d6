// Pairwise exchange AllToAll: n steps, each a perfect matching, so every rank talks to one
// partner at a time and no link is shared within a step.
#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "pairwise";

/// The partner of `rank` in step `step`. The map is an involution (partner of the partner is
/// `rank`), so both sides of a pair meet in the same step.
int pairwisePartner(int rank, int step, int n) { return mod(step - rank, n); }

}  // namespace

bool pairwiseSupports(Collective c) { return c == Collective::AllToAll; }

Schedule generatePairwise(const ScheduleRequest& req) {
  if (req.collective != Collective::AllToAll) throwUnsupported(kName, req.collective);
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, n, n);
  for (int r = 0; r < n; ++r) {
    for (int step = 0; step < n; ++step) {
      const int p = pairwisePartner(r, step, n);
      // In place input p is output p: SendRecv sends each slice before it receives into
      // it, and the own block becomes a self-copy the executor may skip.
      s.steps[r].push_back(p == r ? copy(in(r), out(r)) : sendRecv(p, in(p), out(p)));
    }
  }
  return s;
}

}  // namespace prism
