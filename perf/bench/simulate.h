// prism-bench --simulate FILE: the cost model's view of a cluster described by a fabric
// file (Prism JSON or NCCL XML), however large, without running anything. The ranks are
// placed on the file's hosts (one per GPU, or --ranks-per-host), the selector runs for every
// size of the sweep exactly as a communicator on that cluster would, and each row gives the
// chosen algorithm with its predicted time, algbw and busbw, and every candidate's time.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "perf/bench/options.h"

namespace prism::bench {

struct SimulatedRow {
  size_t bytes = 0;  ///< the "size" column (nccl-tests sizing)
  size_t count = 0;
  std::string algorithm;  ///< the selector's choice
  double timeUs = 0;      ///< its predicted time
  /// Predicted time of every algorithm that runs the collective, in Simulation::algorithms
  /// order (infinity where one cannot run this request).
  std::vector<double> candidateUs;
};

struct Simulation {
  std::string fabricFile;
  int hosts = 0;
  int ranksPerHost = 0;
  int nranks = 0;
  std::string profile;                  ///< the cost profile's source and main constants
  std::vector<std::string> algorithms;  ///< the candidates, for the columns
  std::vector<SimulatedRow> rows;
};

/// Places the ranks and predicts every size of `options`' sweep. Throws prism::Error
/// (ncclInvalidArgument) for an unreadable or inconsistent fabric file, a rank count that
/// the hosts cannot hold, or a collective the model does not time (sendrecv).
Simulation simulate(const Options& options);

/// The table: a "#" header naming the fabric and placement, then per size the nccl-tests
/// leading columns, the choice, its time, algbw and busbw, and each candidate's time.
std::string formatSimulation(const Simulation& simulation, const Options& options);

/// The same as JSON (the --json file of a simulation).
std::string simulationJson(const Simulation& simulation, const Options& options);

/// prism-bench --simulate: prints the table, writes --json and --plot when asked. Returns
/// the exit code (2 with a one-line reason on `err` for bad input).
int runSimulation(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace prism::bench
