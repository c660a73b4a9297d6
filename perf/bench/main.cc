// prism-bench: nccl-tests-style bandwidth measurements of Prism through the public NCCL
// API. Usage: prism-bench <collective> [-b min] [-e max] [-f factor] ... [-np N] [-t T]
// [--mem host|device|ncclmem] [-G launches] [--predict] [--json F] [--plot F.svg]; run
// under an nccl-tests name (all_reduce_perf, ...) it takes no collective argument; or
// prism-bench --calibrate FILE -np N, which fits the cost model's constants and writes them
// as a tuning profile; or prism-bench <collective> --simulate FABRIC [--ranks-per-host R],
// which runs nothing and prints the cost model's predictions for that cluster.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "perf/bench/calibrate.h"
#include "perf/bench/device_memory.h"
#include "perf/bench/launcher.h"
#include "perf/bench/nccl_tests_json.h"
#include "perf/bench/options.h"
#include "perf/bench/program_aliases.h"
#include "perf/bench/report.h"
#include "perf/bench/runner.h"
#include "prism/prism.h"

namespace {

using prism::bench::RankMain;

// --mem device needs CUDA in this build and a device on this machine. Checked once here,
// for one clear message, without initializing CUDA in this process: the ranks fork later.
bool deviceMemoryUsable() {
  if (!prism::bench::cudaCompiledIn()) {
    std::fprintf(stderr,
                 "prism-bench: --mem device: this prism-bench was built without CUDA "
                 "(configure with PRISM_CUDA=ON)\n");
    return false;
  }
  std::string error;
  int devices = prism::bench::probeDeviceCount(error);
  if (devices <= 0) {
    std::fprintf(stderr, "prism-bench: --mem device: no CUDA device found%s%s\n",
                 error.empty() ? "" : ": ", error.c_str());
    return false;
  }
  return true;
}

// One rank's whole life: the sweep, or the calibration.
RankMain rankMain(prism::bench::Options options) {
  return [options = std::move(options)](const prism::bench::RankContext& context) {
    return options.calibratePath.empty() ? prism::bench::runRank(options, context)
                                         : prism::bench::runCalibrationRank(options, context);
  };
}

// --simulate runs the cost model on a described cluster. That needs the library's internals,
// which libprism.so does not export, so it is a program of its own (prism-bench-sim, built
// beside this one); prism-bench hands it the same arguments, and under an nccl-tests name
// the collective that name stands for.
int execSimulator(int argc, char** argv, const prism::bench::Options& options) {
  std::string self(4096, '\0');
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  self.resize(n > 0 ? static_cast<size_t>(n) : 0);
  const std::string sim = self.substr(0, self.rfind('/') + 1) + "prism-bench-sim";
  std::vector<char*> args{const_cast<char*>(sim.c_str())};
  std::string collective;
  if (prism::bench::findProgramAlias(argv[0]) != nullptr) {
    collective = prism::bench::cliName(*options.collective);
    args.push_back(collective.data());
  }
  args.insert(args.end(), argv + 1, argv + argc);
  args.push_back(nullptr);
  execv(sim.c_str(), args.data());
  std::fprintf(stderr, "prism-bench: --simulate: cannot run %s: %s\n", sim.c_str(),
               std::strerror(errno));
  return 2;
}

// -T: nccl-tests' timeout becomes Prism's PRISM_TIMEOUT_S, set before any communicator
// reads it (every rank inherits it), unless the environment sets it already: that wins,
// and the header says so.
void applyTimeout(prism::bench::Options& options) {
  if (options.timeoutS <= 0) return;
  const char* current = std::getenv("PRISM_TIMEOUT_S");
  if (current != nullptr) {
    options.timeoutEnv = current;
  } else {
    setenv("PRISM_TIMEOUT_S", std::to_string(options.timeoutS).c_str(), 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace prism::bench;
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string program = argc > 0 ? argv[0] : "prism-bench";
  ParseOutcome parsed = parseOptions(args, std::cout, std::cerr, program);
  if (!parsed.options) return parsed.exitCode;
  Options options = *parsed.options;
  if (options.showVersion) {
    int nccl = 0;
    ncclGetVersion(&nccl);
    std::fputs(
        formatVersion(program.substr(program.rfind('/') + 1), prismVersionString(), nccl).c_str(),
        stdout);
    return 0;
  }
  options.commandLine.assign(argv, argv + argc);
  if (options.printConfig) {
    prismPrintConfig(stdout);
    if (!options.collective && options.calibratePath.empty()) return 0;
  }
  if (!options.simulatePath.empty()) return execSimulator(argc, argv, options);
  if (options.mem == MemKind::Device && !deviceMemoryUsable()) return 2;
  applyTimeout(options);
  // Calibration fits the model to ring schedules. Set before any thread or rank exists,
  // and so before any communicator reads it; every rank inherits it.
  if (!options.calibratePath.empty()) setenv("PRISM_ALGO", "ring", 1);
  // --bind-to and --map-by reach every rank the way a launcher's do: through the variables
  // prismBindProcess and prismBindThread read (docs/prism-run.md, "Binding ranks to cores").
  if (!options.bindTo.empty()) setenv("PRISM_BIND_TO", options.bindTo.c_str(), 1);
  if (!options.mapBy.empty()) setenv("PRISM_MAP_BY", options.mapBy.c_str(), 1);
  // Started by a launcher (prism-run, mpirun, srun, torchrun) without -np: this process is
  // one rank process of the launcher's world.
  int process = 0, nprocs = 1;
  ncclUniqueId id{};
  if (options.nranks == 1 && prismLaunchWorld(&process, &nprocs, &id) != ncclSuccess) {
    std::fprintf(stderr, "prism-bench: launcher environment: %s\n", ncclGetLastError(nullptr));
    return 2;
  }
  // -J: the first process picks the file before any rank starts, as nccl-tests does; its
  // rank 0 writes it at the end. Flushed now, so that forked ranks do not repeat the line.
  if (!options.outputFile.empty()) {
    std::optional<std::string> claimed;
    if (process == 0) claimed = claimOutputFile(options.outputFile, std::cout);
    options.outputFile = claimed.value_or("");
    std::cout.flush();
  }
  if (nprocs > 1) {
    Options world = options;
    world.nranks = nprocs;
    return runLaunchedRanks(process, nprocs, options.ranksPerProcess(), id, rankMain(world));
  }
  return launchLocalRanks(options.nranks, options.ranksPerProcess(), rankMain(options));
}
