// Ring: rank r sends only to r+1 and receives only from r-1, so every link carries the same
// load and large messages run at link bandwidth. Reductions are cut into n blocks that
// travel around the ring; Broadcast and Reduce are one block pipelined along a chain.
#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "ring";

int ringNext(int rank, int n) { return mod(rank + 1, n); }
int ringPrev(int rank, int n) { return mod(rank - 1, n); }
/// Position of `rank` on a chain that starts at `root` and follows the ring.
int chainPosition(int rank, int root, int n) { return mod(rank - root, n); }

/// Reduce-scatter around the ring. At step s rank r handles block `first - s`; the partial
/// sum arrives from r-1, gains r's contribution and moves on, so after n-1 steps rank r
/// holds block `first - (n-1)` = `first + 1` complete. Partials travel on the wire; only the
/// final step stores (into `last`) and finalizes. With `forwardLast` the completed block is
/// also sent on, which starts the allgather of ring AllReduce one step early.
void reduceScatterSteps(std::vector<Step>& steps, int rank, int n, int first, BlockRef last,
                        bool forwardLast) {
  const int next = ringNext(rank, n);
  const int prev = ringPrev(rank, n);
  steps.push_back(send(next, in(mod(first, n))));
  for (int s = 1; s < n - 1; ++s) {
    steps.push_back(recvReduceSend(prev, next, in(mod(first - s, n)), wire()));
  }
  BlockRef lastIn = in(mod(first + 1, n));
  steps.push_back(forwardLast ? recvReduceSend(prev, next, lastIn, last, true)
                              : recvReduce(prev, lastIn, last, true));
}

Schedule allReduce(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, n, n);
  if (n == 1) {
    s.steps[0].push_back(copy(in(0), out(0), true));
    return s;
  }
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    // Rank r completes block r+1 and forwards it at once.
    reduceScatterSteps(steps, r, n, r, out(mod(r + 1, n)), true);
    // Allgather: the block received at step k was completed by rank r-k, i.e. block r-k+1.
    for (int k = 1; k < n; ++k) {
      BlockRef dst = out(mod(r - k + 1, n));
      steps.push_back(k < n - 1 ? recvSend(ringPrev(r, n), ringNext(r, n), dst)
                                : recv(ringPrev(r, n), dst));
    }
  }
  return s;
}

Schedule reduceScatter(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, n, 1);
  if (n == 1) {
    s.steps[0].push_back(copy(in(0), out(0), true));
    return s;
  }
  // Starting one block earlier than AllReduce makes rank r complete its own block r. In
  // place, output 0 is input block r, which is read only by that last step.
  for (int r = 0; r < n; ++r) reduceScatterSteps(s.steps[r], r, n, r - 1, out(0), false);
  return s;
}

Schedule allGather(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, n);
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    if (n > 1) steps.push_back(send(ringNext(r, n), in(0)));
    // In place input 0 is output r, which no receive below writes.
    steps.push_back(copy(in(0), out(r)));
    for (int k = 1; k < n; ++k) {
      BlockRef dst = out(mod(r - k, n));
      steps.push_back(k < n - 1 ? recvSend(ringPrev(r, n), ringNext(r, n), dst)
                                : recv(ringPrev(r, n), dst));
    }
  }
  return s;
}

Schedule broadcast(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, 1);
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    const int pos = chainPosition(r, req.root, n);
    if (pos == 0) {
      if (n > 1) steps.push_back(send(ringNext(r, n), in(0)));
      steps.push_back(copy(in(0), out(0)));
    } else if (pos < n - 1) {
      steps.push_back(recvSend(ringPrev(r, n), ringNext(r, n), out(0)));
    } else {
      steps.push_back(recv(ringPrev(r, n), out(0)));
    }
  }
  return s;
}

Schedule reduce(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, 1);
  // The chain starts right after the root and ends at it. Non-root outputs may be NULL,
  // so partial sums live only on the wire.
  for (int r = 0; r < n; ++r) {
    auto& steps = s.steps[r];
    const int pos = chainPosition(r, req.root, n);
    if (n == 1) {
      steps.push_back(copy(in(0), out(0), true));
    } else if (pos == 0) {
      steps.push_back(recvReduce(ringPrev(r, n), in(0), out(0), true));
    } else if (pos == 1) {
      steps.push_back(send(ringNext(r, n), in(0)));
    } else {
      steps.push_back(recvReduceSend(ringPrev(r, n), ringNext(r, n), in(0), wire()));
    }
  }
  return s;
}

}  // namespace

bool ringSupports(Collective c) {
  return c == Collective::AllReduce || c == Collective::AllGather ||
         c == Collective::ReduceScatter || c == Collective::Broadcast || c == Collective::Reduce;
}

Schedule generateRing(const ScheduleRequest& request) {
  switch (request.collective) {
    case Collective::AllReduce:
      return allReduce(request);
    case Collective::ReduceScatter:
      return reduceScatter(request);
    case Collective::AllGather:
      return allGather(request);
    case Collective::Broadcast:
      return broadcast(request);
    case Collective::Reduce:
      return reduce(request);
    default:
      throwUnsupported(kName, request.collective);
  }
}

}  // namespace prism
