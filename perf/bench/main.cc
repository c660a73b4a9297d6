// prism-bench: nccl-tests-style bandwidth measurements of Prism through the public NCCL
// API. Usage: prism-bench <collective> [-b min] [-e max] [-f factor] ... [-np N] [-t T]
// [--mem host|device|ncclmem] [-G launches] [--predict]; or prism-bench --calibrate FILE
// -np N, which fits the cost model's constants and writes them as a tuning profile.
#include <prism/prism.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "perf/bench/calibrate.h"
#include "perf/bench/device_memory.h"
#include "perf/bench/launcher.h"
#include "perf/bench/options.h"
#include "perf/bench/report.h"
#include "perf/bench/runner.h"
#include "src/launch/launch_env.h"

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

}  // namespace

int main(int argc, char** argv) {
  using namespace prism::bench;
  std::vector<std::string> args(argv + 1, argv + argc);
  ParseOutcome parsed = parseOptions(args, std::cout, std::cerr);
  if (!parsed.options) return parsed.exitCode;
  const Options& options = *parsed.options;
  if (options.printConfig) {
    prismPrintConfig(stdout);
    if (!options.collective && options.calibratePath.empty()) return 0;
  }
  if (options.mem == MemKind::Device && !deviceMemoryUsable()) return 2;
  // Calibration fits the model to ring schedules. Set before any thread or rank exists,
  // and so before any communicator reads it; every rank inherits it.
  if (!options.calibratePath.empty()) setenv("PRISM_ALGO", "ring", 1);
  // Started by a launcher (prism-run, mpirun, srun, torchrun) without -np: this process is
  // one rank process of the launcher's world.
  if (options.nranks == 1) {
    int process = 0, nprocs = 1;
    ncclUniqueId id{};
    if (prismLaunchWorld(&process, &nprocs, &id) != ncclSuccess) {
      std::fprintf(stderr, "prism-bench: launcher environment: %s\n", ncclGetLastError(nullptr));
      return 2;
    }
    if (nprocs > 1) {
      Options world = options;
      world.nranks = nprocs;
      return runLaunchedRanks(process, nprocs, options.nthreads, id, rankMain(world));
    }
  }
  return launchLocalRanks(options.nranks, options.nthreads, rankMain(options));
}
