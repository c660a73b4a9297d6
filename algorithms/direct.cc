// Direct Gather and Scatter: the root exchanges one message with every other rank. The root
// link carries (n-1) shares whatever the algorithm, so there is nothing to gain from relays
// on shared memory.
#include "algorithms/generators.h"
#include "algorithms/schedule_builder.h"

namespace prism {
namespace {

using namespace build;

constexpr const char* kName = "direct";

/// The k-th peer (k = 1..n-1) the root serves, starting after itself so that different
/// roots spread their first messages over different ranks.
int rootPeer(int root, int k, int n) { return mod(root + k, n); }

Schedule gather(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, 1, n);
  for (int r = 0; r < n; ++r) {
    if (r != req.root) s.steps[r].push_back(send(req.root, in(0)));
  }
  auto& root = s.steps[req.root];
  // In place input 0 is output `root`: a self-copy.
  root.push_back(copy(in(0), out(req.root)));
  for (int k = 1; k < n; ++k) {
    const int peer = rootPeer(req.root, k, n);
    root.push_back(recv(peer, out(peer)));
  }
  return s;
}

Schedule scatter(const ScheduleRequest& req) {
  const int n = req.nranks;
  Schedule s = makeSchedule(req, kName, n, 1);
  for (int r = 0; r < n; ++r) {
    if (r != req.root) s.steps[r].push_back(recv(req.root, out(0)));
  }
  auto& root = s.steps[req.root];
  for (int k = 1; k < n; ++k) {
    const int peer = rootPeer(req.root, k, n);
    root.push_back(send(peer, in(peer)));
  }
  // In place output 0 is input `root`: a self-copy.
  root.push_back(copy(in(req.root), out(0)));
  return s;
}

}  // namespace

bool directSupports(Collective c) { return c == Collective::Gather || c == Collective::Scatter; }

Schedule generateDirect(const ScheduleRequest& req) {
  switch (req.collective) {
    case Collective::Gather:
      return gather(req);
    case Collective::Scatter:
      return scatter(req);
    default:
      throwUnsupported(kName, req.collective);
  }
}

}  // namespace prism
