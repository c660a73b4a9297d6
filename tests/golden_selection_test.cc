// The golden topologies in tests/topologies: the subgroups the system view forms on each and
// the algorithms the selector picks there, through prism-bench --simulate (the cost model
// on a described cluster, perf/bench/simulate.h), plus --simulate and --plot end to end.
//
// Each expectation follows from the fabric, not from a recorded run:
//  - DGX-H100-like node (8 GPUs on one NVSwitch): tiny AllReduce takes the fewest steps
//    (recursive doubling: log2 8 = 3, against the ring's 14); large ones a bandwidth-optimal
//    schedule (every rank moves 2(n-1)/n of the data); Broadcast a tree when small, the
//    pipelined ring when large.
//  - 4 such nodes on a rail-optimized fat tree with an aggregation point: the NVLink inside a
//    node is 9x a NIC, so large collectives go hierarchical (intra-node phases over NVLink,
//    only a 1/8 share per GPU crosses its rail); the aggregation point beats every schedule
//    for AllReduce (each host sends its data up once and receives it once).
//  - 16 hosts on a 4x4 torus, one NIC each: a ring's neighbours are 1-2 hops apart while
//    Bruck's and the trees' far partners cross the torus, so AllGather stays a ring; tiny
//    AllReduce still wants the fewest steps.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "base/error.h"
#include "perf/bench/simulate.h"
#include "tests/harness/shell.h"
#include "topology/fabric_file.h"
#include "topology/system.h"

namespace prism::bench {
namespace {

const std::filesystem::path kDir = PRISM_TOPOLOGY_DIR;

Simulation run(const char* file, Collective c, size_t minBytes, size_t maxBytes) {
  Options o;
  o.collective = c;
  o.minBytes = minBytes;
  o.maxBytes = maxBytes;
  o.stepFactor = 2;
  o.simulatePath = (kDir / file).string();
  return simulate(o);
}

const SimulatedRow& rowOf(const Simulation& sim, size_t bytes) {
  for (const SimulatedRow& row : sim.rows)
    if (row.bytes == bytes) return row;
  throw std::runtime_error("no row of " + std::to_string(bytes) + " bytes");
}

/// The fastest candidate among those whose name is not `excluded`.
std::string fastestExcept(const Simulation& sim, const SimulatedRow& row,
                          const std::string& excluded) {
  std::string best;
  double bestUs = INFINITY;
  for (size_t i = 0; i < sim.algorithms.size(); ++i) {
    if (sim.algorithms[i] != excluded && row.candidateUs[i] < bestUs) {
      best = sim.algorithms[i];
      bestUs = row.candidateUs[i];
    }
  }
  return best;
}

/// Every row's choice is its fastest candidate, and its time is that candidate's.
void expectChoicesAreTheMinimum(const Simulation& sim) {
  for (const SimulatedRow& row : sim.rows) {
    ASSERT_EQ(row.candidateUs.size(), sim.algorithms.size());
    double best = INFINITY;
    for (double us : row.candidateUs) best = std::min(best, us);
    EXPECT_DOUBLE_EQ(row.timeUs, best) << row.bytes << " bytes";
    EXPECT_GT(row.timeUs, 0) << row.bytes << " bytes";
  }
}

bool bandwidthOptimal(const std::string& name) {
  return name == "ring" || name == "rabenseifner" || name == "multi_ring";
}

TEST(GoldenSubgroups, DgxRailFatTreeAndTorus) {
  using topo::Level;
  auto system = [](const char* file, int perHost, int gpus) {
    const topo::Graph g = topo::loadFabricFile((kDir / file).string());
    std::vector<topo::RankInfo> ranks;
    int hosts = 0;
    for (const topo::Node& n : g.nodes) hosts += n.kind == topo::NodeKind::Host;
    for (int r = 0; r < hosts * perHost; ++r) {
      topo::RankInfo info;
      info.host = "h" + std::to_string(r / perHost);
      info.gpu = gpus > 0 ? r % perHost : -1;
      info.nic = r % perHost;
      ranks.push_back(info);
    }
    return topo::SystemTopology(ranks, &g);
  };
  const topo::SystemTopology dgx = system("dgx_h100.json", 8, 8);
  EXPECT_EQ(dgx.groups(Level::Host), (std::vector<std::vector<int>>{{0, 1, 2, 3, 4, 5, 6, 7}}));
  EXPECT_EQ(dgx.groups(Level::NvLink), dgx.groups(Level::Host));
  EXPECT_EQ(dgx.groups(Level::Rail).size(), 8u);  // one rank per rail on one node

  const topo::SystemTopology rail = system("rail_fat_tree.json", 8, 8);
  ASSERT_EQ(rail.groups(Level::Host).size(), 4u);
  EXPECT_EQ(rail.groups(Level::Host)[1], (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(rail.groups(Level::NvLink), rail.groups(Level::Host));
  ASSERT_EQ(rail.groups(Level::Rail).size(), 8u);
  EXPECT_EQ(rail.groups(Level::Rail)[3], (std::vector<int>{3, 11, 19, 27}));
  EXPECT_EQ(rail.aggregationPoints().size(), 1u);

  const topo::SystemTopology torus = system("torus.json", 1, 0);
  EXPECT_EQ(torus.groups(Level::Host).size(), 16u);
  EXPECT_TRUE(torus.aggregationPoints().empty());
}

TEST(GoldenSelection, DgxNode) {
  const Simulation ar = run("dgx_h100.json", Collective::AllReduce, 8, 256u << 20);
  EXPECT_EQ(ar.hosts, 1);
  EXPECT_EQ(ar.ranksPerHost, 8);  // one rank per GPU
  expectChoicesAreTheMinimum(ar);
  EXPECT_EQ(rowOf(ar, 8).algorithm, "recursive_doubling");
  for (size_t bytes : {size_t{8} << 20, size_t{256} << 20})
    EXPECT_TRUE(bandwidthOptimal(rowOf(ar, bytes).algorithm)) << rowOf(ar, bytes).algorithm;
  // One node: no network link, so no in-network candidate either.
  EXPECT_EQ(std::count(ar.algorithms.begin(), ar.algorithms.end(), "innet"), 0);

  const Simulation bc = run("dgx_h100.json", Collective::Broadcast, 8, 256u << 20);
  expectChoicesAreTheMinimum(bc);
  EXPECT_EQ(rowOf(bc, 8).algorithm, "tree");
  EXPECT_EQ(rowOf(bc, 256u << 20).algorithm, "ring");
}

TEST(GoldenSelection, RailOptimizedFatTree) {
  const Simulation ar = run("rail_fat_tree.json", Collective::AllReduce, 8, 256u << 20);
  EXPECT_EQ(ar.nranks, 32);
  expectChoicesAreTheMinimum(ar);
  for (const SimulatedRow& row : ar.rows) EXPECT_EQ(row.algorithm, "innet") << row.bytes;
  // Without the aggregation point: fewest steps when tiny, hierarchical when large.
  EXPECT_EQ(fastestExcept(ar, rowOf(ar, 8), "innet"), "recursive_doubling");
  for (size_t bytes : {size_t{8} << 20, size_t{256} << 20})
    EXPECT_EQ(fastestExcept(ar, rowOf(ar, bytes), "innet"), "hierarchical") << bytes;

  const Simulation ag = run("rail_fat_tree.json", Collective::AllGather, 1024, 256u << 20);
  expectChoicesAreTheMinimum(ag);
  for (const SimulatedRow& row : ag.rows) EXPECT_EQ(row.algorithm, "hierarchical") << row.bytes;

  const Simulation bc = run("rail_fat_tree.json", Collective::Broadcast, 8, 256u << 20);
  expectChoicesAreTheMinimum(bc);
  EXPECT_EQ(rowOf(bc, 256u << 20).algorithm, "hierarchical");
}

TEST(GoldenSelection, Torus) {
  const Simulation ar = run("torus.json", Collective::AllReduce, 8, 256u << 20);
  EXPECT_EQ(ar.nranks, 16);
  expectChoicesAreTheMinimum(ar);
  EXPECT_EQ(rowOf(ar, 8).algorithm, "recursive_doubling");
  EXPECT_EQ(rowOf(ar, 256u << 20).algorithm, "ring");

  const Simulation ag = run("torus.json", Collective::AllGather, 1024, 256u << 20);
  expectChoicesAreTheMinimum(ag);
  for (const SimulatedRow& row : ag.rows) EXPECT_EQ(row.algorithm, "ring") << row.bytes;
}

TEST(GoldenSelection, RanksPerHostOverridesTheGpuCount) {
  Options o;
  o.collective = Collective::AllReduce;
  o.minBytes = o.maxBytes = 1 << 20;
  o.simulatePath = (kDir / "rail_fat_tree.json").string();
  o.ranksPerHost = 2;
  const Simulation sim = simulate(o);
  EXPECT_EQ(sim.nranks, 8);
  EXPECT_EQ(sim.rows.size(), 1u);
}

TEST(GoldenSelection, BadInputIsAnErrorNamingIt) {
  Options o;
  o.collective = Collective::AllReduce;
  o.simulatePath = (kDir / "no_such_file.json").string();
  try {
    simulate(o);
    ADD_FAILURE() << "a missing file must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_file.json"), std::string::npos) << e.what();
  }
  o.simulatePath = (kDir / "torus.json").string();
  o.collective = Collective::SendRecv;
  EXPECT_THROW(simulate(o), Error);
}

#ifdef PRISM_BENCH_BIN
/// Runs `command`, leaving its output in `output`; returns the exit status.
int runCommand(const std::string& command, std::string& output) {
  const test::ShellOutcome outcome = test::runShell(command);
  output = outcome.output;
  return outcome.status;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(BenchSimulate, PrintsJsonAndPlotEndToEnd) {
  const std::string dir = testing::TempDir();
  const std::string svg = dir + "/prism-sim.svg", json = dir + "/prism-sim.json";
  std::string output;
  ASSERT_EQ(runCommand(std::string(PRISM_BENCH_BIN) + " allreduce --simulate " +
                           (kDir / "torus.json").string() + " -b 8 -e 64M -f 8 --plot " + svg +
                           " --json " + json,
                       output),
            0)
      << output;
  EXPECT_NE(output.find("16 ranks"), std::string::npos) << output;
  EXPECT_NE(output.find("recursive_doubling"), std::string::npos) << output;
  // 8 B .. 16 MiB by 8 (the next, 128 MiB, is beyond -e): 8 rows.
  int rows = 0;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) rows += !line.empty() && line[0] != '#';
  EXPECT_EQ(rows, 8) << output;
  const std::string chart = slurp(svg);
  EXPECT_EQ(chart.rfind("<svg", 0), 0u);
  // One line per candidate plus the chosen one.
  EXPECT_EQ(count(chart, "<polyline"), 7) << chart.substr(0, 400);
  EXPECT_NE(slurp(json).find("\"simulated\": true"), std::string::npos);

  EXPECT_EQ(runCommand(std::string(PRISM_BENCH_BIN) + " allreduce --simulate " +
                           (kDir / "torus.json").string() + " -np 2",
                       output),
            2);
  EXPECT_NE(output.find("--simulate runs nothing"), std::string::npos) << output;
  EXPECT_EQ(runCommand(std::string(PRISM_BENCH_BIN) + " allreduce --plot x.png -b 8 -e 8", output),
            2);
  EXPECT_NE(output.find("SVG"), std::string::npos) << output;
}

TEST(BenchPlot, MeasuredSweepIsDrawn) {
  const std::string svg = testing::TempDir() + "/prism-measured.svg";
  std::string output;
  ASSERT_EQ(runCommand(std::string(PRISM_BENCH_BIN) +
                           " allreduce -t 2 -b 1K -e 64K -f 4 -n 2 -w 1 "
                           "--plot " +
                           svg,
                       output),
            0)
      << output;
  const std::string chart = slurp(svg);
  EXPECT_EQ(count(chart, "<polyline"), 2);  // out of place and in place
  EXPECT_NE(chart.find("float sum out of place"), std::string::npos);
  // 1K, 4K, 16K, 64K: four points per line.
  const size_t start = chart.find("points=\"");
  ASSERT_NE(start, std::string::npos);
  const std::string points = chart.substr(start, chart.find('"', start + 8) - start);
  EXPECT_EQ(count(points, ","), 4) << points;
}
#endif

}  // namespace
}  // namespace prism::bench
