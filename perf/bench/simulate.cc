#include "perf/bench/simulate.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>

#include "algorithms/cost_profile.h"
#include "algorithms/in_network_model.h"
#include "algorithms/registry.h"
#include "algorithms/select.h"
#include "algorithms/topology_fabric.h"
#include "base/config.h"
#include "base/error.h"
#include "perf/bench/formatf.h"
#include "perf/bench/plot.h"
#include "perf/bench/report.h"
#include "topology/fabric_file.h"
#include "topology/system.h"
#include "topology/system_gather.h"

namespace prism::bench {
namespace {

prism::Collective modelCollective(Collective c) {
  switch (c) {
    case Collective::AllReduce:
      return prism::Collective::AllReduce;
    case Collective::AllGather:
      return prism::Collective::AllGather;
    case Collective::ReduceScatter:
      return prism::Collective::ReduceScatter;
    case Collective::Broadcast:
      return prism::Collective::Broadcast;
    case Collective::Reduce:
      return prism::Collective::Reduce;
    case Collective::AllToAll:
      return prism::Collective::AllToAll;
    case Collective::Gather:
      return prism::Collective::Gather;
    case Collective::Scatter:
      return prism::Collective::Scatter;
    case Collective::SendRecv:
      break;
  }
  throw Error(ncclInvalidArgument,
              "--simulate: sendrecv is a point-to-point pattern, not a "
              "collective the cost model selects for");
}

/// How many nodes of `kind` the first host of `g` owns.
int devicesOfFirstHost(const topo::Graph& g, topo::NodeKind kind) {
  int host = -1;
  for (size_t i = 0; i < g.nodes.size() && host < 0; ++i)
    if (g.nodes[i].kind == topo::NodeKind::Host) host = static_cast<int>(i);
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [&](const topo::Node& n) {
    return n.kind == kind && n.host == host;
  }));
}

int countHosts(const topo::Graph& g) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [](const topo::Node& n) {
    return n.kind == topo::NodeKind::Host;
  }));
}

/// Rank r on host r / perHost, with local GPU and NIC r % perHost where the host has them
/// (NIC i beside GPU i, as rail-optimized nodes pair them).
std::vector<topo::RankInfo> placeRanks(int hosts, int perHost, int gpus, int nics) {
  std::vector<topo::RankInfo> ranks;
  for (int r = 0; r < hosts * perHost; ++r) {
    topo::RankInfo info;
    info.host = "simulated-host-" + std::to_string(r / perHost);
    const int local = r % perHost;
    if (gpus > 0) info.gpu = local % gpus;
    if (nics > 0) info.nic = local % nics;
    ranks.push_back(info);
  }
  return ranks;
}

}  // namespace

Simulation simulate(const Options& options) {
  if (!options.collective) throw Error(ncclInvalidArgument, "--simulate needs a collective");
  const Collective collective = *options.collective;
  const prism::Collective model = modelCollective(collective);
  Simulation sim;
  sim.fabricFile = options.simulatePath;
  const topo::Graph graph = topo::loadFabricFile(options.simulatePath);
  sim.hosts = countHosts(graph);
  if (sim.hosts == 0)
    throw Error(ncclInvalidArgument,
                "--simulate " + options.simulatePath + ": the file has no hosts");
  const int gpus = devicesOfFirstHost(graph, topo::NodeKind::Gpu);
  const int nics = devicesOfFirstHost(graph, topo::NodeKind::Nic);
  sim.ranksPerHost = options.ranksPerHost > 0 ? options.ranksPerHost : std::max(gpus, 1);
  sim.nranks = sim.hosts * sim.ranksPerHost;
  const topo::SystemTopology system(placeRanks(sim.hosts, sim.ranksPerHost, gpus, nics), &graph);
  const CostProfile& profile = activeCostProfile();
  const FabricModel fabric = fabricFromTopology(system, profile);
  sim.profile = formatf(
      "cost profile (%s): step %.2f us, rank port %.0f B/us, reduce %.0f B/us, network step "
      "%.2f us; GPU ranks on NVLink use its speed for their ports",
      config::getString(config::Setting::TuningFile).empty() ? "built-in host defaults"
                                                             : "PRISM_TUNING_FILE",
      profile.stepMicros, profile.shmBytesPerMicro, profile.reduceBytesPerMicro,
      profile.networkStepMicros);

  std::vector<const AlgorithmInfo*> candidates;
  for (const AlgorithmInfo& info : allAlgorithms()) {
    if (info.supports(model)) {
      candidates.push_back(&info);
      sim.algorithms.push_back(info.name);
    }
  }
  // An aggregation point in the file makes in-network AllReduce a candidate, chosen as a
  // communicator chooses it (src/core/comm_innet.cc): when it beats the best schedule.
  const bool innet = model == prism::Collective::AllReduce && !system.aggregationPoints().empty();
  const InNetworkCosts innetCosts = inNetworkCostsFor(fabric, system.hostOf());
  if (innet) sim.algorithms.push_back("innet");
  const size_t typeSize = dataTypeSize(options.types.front());
  for (size_t bytes : sizeSweep(options)) {
    const Layout layout = layoutFor(collective, bytes, typeSize, sim.nranks, 0);
    SelectionRequest request{model, sim.nranks, layout.reportedBytes, ""};
    request.fabric = &fabric;
    request.groupOf = &system.hostOf();
    SimulatedRow row;
    row.bytes = layout.reportedBytes;
    row.count = layout.count;
    const AlgorithmInfo& chosen = selectAlgorithm(request);
    row.algorithm = chosen.name;
    row.timeUs = predictMicros(chosen, request);
    for (const AlgorithmInfo* info : candidates) {
      const bool applies =
          info->applies == nullptr || info->applies(scheduleRequestFor(request, 0));
      row.candidateUs.push_back(applies ? predictMicros(*info, request)
                                        : std::numeric_limits<double>::infinity());
    }
    if (innet) {
      const double us = innetCosts.linkBytesPerMicro > 0
                            ? predictInNetworkMicros(row.bytes, sim.nranks, innetCosts)
                            : std::numeric_limits<double>::infinity();
      row.candidateUs.push_back(us);
      if (us < row.timeUs) {
        row.algorithm = "innet";
        row.timeUs = us;
      }
    }
    sim.rows.push_back(std::move(row));
  }
  return sim;
}

std::string formatSimulation(const Simulation& sim, const Options& options) {
  const Collective collective = *options.collective;
  const char* type = dataTypeName(options.types.front());
  const std::string redop = usesRedOp(collective) ? benchOpName(options.ops.front()) : "none";
  const int root = usesRoot(collective) ? std::max(options.root, 0) : -1;
  std::string out = formatf("# prism-bench --simulate: %s, %d hosts x %d ranks = %d ranks\n",
                            sim.fabricFile.c_str(), sim.hosts, sim.ranksPerHost, sim.nranks);
  out += "# predicted by the cost model (nothing runs); time of one call, busbw as nccl-tests\n";
  out += "# " + sim.profile + "\n";
  out += "#\n# candidates (us):";
  for (const std::string& name : sim.algorithms) out += " " + name;
  out += "\n";
  out += formatf("#%11s  %12s  %8s  %6s  %6s  %10s  %7s  %7s  %-20s  %s\n", "size", "count", "type",
                 "redop", "root", "time", "algbw", "busbw", "algorithm", "candidates");
  out += formatf("#%11s  %12s  %8s  %6s  %6s  %10s  %7s  %7s\n", "(B)", "(elements)", "", "", "",
                 "(us)", "(GB/s)", "(GB/s)");
  const double factor = busBandwidthFactor(collective, sim.nranks);
  for (const SimulatedRow& row : sim.rows) {
    const double algbw = algBw(row.bytes, row.timeUs);
    out += formatf("%12zu  %12zu  %8s  %6s  %6d  %10.2f  %7.2f  %7.2f  %-20s ", row.bytes,
                   row.count, type, redop.c_str(), root, row.timeUs, algbw, algbw * factor,
                   row.algorithm.c_str());
    for (double us : row.candidateUs)
      out += std::isfinite(us) ? formatf(" %.1f", us) : std::string(" -");
    out += "\n";
  }
  return out;
}

std::string simulationJson(const Simulation& sim, const Options& options) {
  const Collective collective = *options.collective;
  const double factor = busBandwidthFactor(collective, sim.nranks);
  nlohmann::json results = nlohmann::json::array();
  for (const SimulatedRow& row : sim.rows) {
    nlohmann::json candidates = nlohmann::json::object();
    for (size_t i = 0; i < sim.algorithms.size(); ++i) {
      const double us = row.candidateUs[i];
      candidates[sim.algorithms[i]] = std::isfinite(us) ? nlohmann::json(us) : nlohmann::json();
    }
    const double algbw = algBw(row.bytes, row.timeUs);
    results.push_back({{"size", row.bytes},
                       {"count", row.count},
                       {"algorithm", row.algorithm},
                       {"time_us", row.timeUs},
                       {"algbw_gbps", algbw},
                       {"busbw_gbps", algbw * factor},
                       {"candidates_us", candidates}});
  }
  const nlohmann::json doc = {{"collective", cliName(collective)},
                              {"simulated", true},
                              {"fabric_file", sim.fabricFile},
                              {"hosts", sim.hosts},
                              {"ranks_per_host", sim.ranksPerHost},
                              {"nranks", sim.nranks},
                              {"cost_profile", sim.profile},
                              {"type", dataTypeName(options.types.front())},
                              {"results", results}};
  return doc.dump(2) + "\n";
}

int runSimulation(const Options& options, std::ostream& out, std::ostream& err) {
  Simulation sim;
  try {
    sim = simulate(options);
  } catch (const Error& e) {
    err << "prism-bench: " << e.what() << "\n";
    return 2;
  }
  out << formatSimulation(sim, options);
  if (!options.jsonPath.empty()) {
    std::ofstream file(options.jsonPath);
    file << simulationJson(sim, options);
    if (!file) {
      err << "prism-bench: cannot write " << options.jsonPath << "\n";
      return 2;
    }
  }
  if (!options.plotPath.empty()) {
    PlotSpec plot;
    plot.title = formatf("%s on %s, %d ranks (simulated)", cliName(*options.collective),
                         sim.fabricFile.c_str(), sim.nranks);
    plot.yLabel = "predicted busbw (GB/s)";
    const double factor = busBandwidthFactor(*options.collective, sim.nranks);
    for (size_t i = 0; i < sim.algorithms.size(); ++i) {
      PlotSeries series{sim.algorithms[i], {}, false};
      for (const SimulatedRow& row : sim.rows) {
        const double us = row.candidateUs[i];
        if (std::isfinite(us) && us > 0)
          series.points.push_back({double(row.bytes), algBw(row.bytes, us) * factor});
      }
      plot.series.push_back(std::move(series));
    }
    PlotSeries chosen{"chosen", {}, true};
    for (const SimulatedRow& row : sim.rows)
      if (row.timeUs > 0)
        chosen.points.push_back({double(row.bytes), algBw(row.bytes, row.timeUs) * factor});
    plot.series.push_back(std::move(chosen));
    if (!writePlot(options.plotPath, plot, err)) return 2;
  }
  return 0;
}

}  // namespace prism::bench
