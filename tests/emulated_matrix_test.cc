// The correctness matrix on emulated multi-host fabrics: every algorithm, forced with
// PRISM_ALGO, runs every collective it supports across network namespaces on 3 and 5
// ranks, and hierarchical also on 2 hosts x 2 ranks placed round-robin; once with the
// automatic transports (TCP between emulated hosts, shared memory within one) and once
// with UCX for every peer (UCX_TLS=tcp). prism-bench checks five types and four operators
// against its independent reference. Needs root for namespaces; skips with the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "tests/harness/shell.h"
#include "transports/ucx/ucx_transport.h"

#ifndef PRISM_RUN_BIN
#error "tests/CMakeLists.txt defines PRISM_RUN_BIN and PRISM_BENCH_BIN"
#endif

namespace prism {
namespace {

using test::namespacesUnavailable;
using test::runShell;
using test::ShellOutcome;

const char* benchName(Collective c) {
  switch (c) {
    case Collective::AllReduce:
      return "allreduce";
    case Collective::Broadcast:
      return "broadcast";
    case Collective::Reduce:
      return "reduce";
    case Collective::AllGather:
      return "allgather";
    case Collective::ReduceScatter:
      return "reducescatter";
    case Collective::AllToAll:
      return "alltoall";
    case Collective::Gather:
      return "gather";
    case Collective::Scatter:
      return "scatter";
    case Collective::SendRecv:
      return "sendrecv";
  }
  return "?";
}

struct Case {
  std::string algorithm;
  Collective collective;
  /// auto, ucx (PRISM_TRANSPORT), or net: auto with the test network plugin loaded, which
  /// automatic selection puts first between hosts.
  std::string transport;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.algorithm << " " << benchName(c.collective) << " over " << c.transport;
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  for (const char* transport : {"auto", "ucx", "net"}) {
    if (std::string(transport) == "ucx" && !ucxBuilt()) continue;
    for (const AlgorithmInfo& info : allAlgorithms()) {
      for (int c = 0; c < kNumCollectives; ++c) {
        if (info.supports(static_cast<Collective>(c))) {
          cases.push_back({info.name, static_cast<Collective>(c), transport});
        }
      }
    }
  }
  return cases;
}

class EmulatedMatrix : public ::testing::TestWithParam<Case> {};

/// prism-bench under prism-run on `hosts` x `perHost` ranks: five types, four operators,
/// sizes 8 B to 97 KiB (primes of elements and odd byte counts), every root.
void runOn(const Case& c, int hosts, int perHost, const char* placement) {
  const bool net = c.transport == "net";
  const std::string transport =
      net ? std::string("auto NCCL_NET_PLUGIN=") + PRISM_TEST_PLUGIN_DIR +
                "/libnccl-net-prismtest.so NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=NET"
          : c.transport;
  const std::string command = "env PRISM_ALGO=" + c.algorithm + " PRISM_TRANSPORT=" + transport +
                              " UCX_TLS=tcp PRISM_TIMEOUT_S=60 " + PRISM_RUN_BIN + " --hosts " +
                              std::to_string(hosts) + " --ranks-per-host " +
                              std::to_string(perHost) + " --placement " + placement + " -- " +
                              PRISM_BENCH_BIN + " " + benchName(c.collective) +
                              " -d float,int32,bfloat16,int8,half -o sum,max,avg,mulsum -r all -b "
                              "8 -e 100K -f 23 -n 1 -w 1 -c 1";
  const ShellOutcome out = runShell(command, 240);
  EXPECT_EQ(out.status, 0) << command << "\n" << out.output;
  EXPECT_NE(out.output.find("Out of bounds values : 0 OK"), std::string::npos) << command << "\n"
                                                                               << out.output;
  if (net) {
    EXPECT_NE(out.output.find("network plugin prismtest between hosts"), std::string::npos)
        << "the test plugin did not carry the traffic\n"
        << out.output;
  }
}

TEST_P(EmulatedMatrix, EveryTypeAndOperatorOnThreeAndFiveHosts) {
  if (const std::string why = namespacesUnavailable(); !why.empty()) GTEST_SKIP() << why;
  const Case& c = GetParam();
  runOn(c, 3, 1, "block");
  runOn(c, 5, 1, "block");
  if (c.algorithm == "hierarchical") runOn(c, 2, 2, "round-robin");
}

INSTANTIATE_TEST_SUITE_P(Algorithms, EmulatedMatrix, ::testing::ValuesIn(allCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.algorithm + "_" + benchName(info.param.collective) +
                                  (info.param.transport == "auto" ? ""
                                                                  : "_" + info.param.transport);
                         });

}  // namespace
}  // namespace prism
