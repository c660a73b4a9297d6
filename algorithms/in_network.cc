// In-network aggregation written down as a schedule, for the verifier and the simulator:
// the aggregation point (a switch, or prism-innet beside it) is one extra participant,
// index nranks, with no contribution of its own. Every rank sends its whole input up
// once and receives the result once; the aggregator reduces in rank order and sends the
// result to every rank. The executor does not run this schedule: the live path is
// src/core/in_network.cc, which streams the same steps chunk by chunk over TCP. As there,
// Avg divides on the rank, after the result arrives.
#include "algorithms/generators.h"

namespace prism {

bool inNetworkSupports(Collective c) { return c == Collective::AllReduce; }

Schedule generateInNetwork(const ScheduleRequest& request) {
  const int n = request.nranks;
  const int aggregator = n;
  Schedule s;
  s.collective = request.collective;
  s.nranks = n;
  s.root = request.root;
  s.algorithm = "innet";
  s.aggregators = 1;
  s.steps.resize(static_cast<size_t>(n) + 1);
  const BlockRef input{BufferId::Input, 0};
  const BlockRef output{BufferId::Output, 0};
  for (int r = 0; r < n; ++r) {
    s.steps[r].push_back({StepKind::Send, aggregator, -1, input, {}, false});
    s.steps[r].push_back({StepKind::Recv, -1, aggregator, {}, output, true});
  }
  // The aggregator's output block is its scratch: contributions are reduced in rank order.
  std::vector<Step>& agg = s.steps[aggregator];
  agg.push_back({StepKind::Recv, -1, 0, {}, output, false});
  for (int r = 1; r < n; ++r) agg.push_back({StepKind::RecvReduce, -1, r, output, output, false});
  for (int r = 0; r < n; ++r) agg.push_back({StepKind::Send, r, -1, output, {}, false});
  return s;
}

}  // namespace prism
