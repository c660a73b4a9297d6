// prism-bench: nccl-tests-style bandwidth measurements of Prism through the public NCCL
// API. Usage: prism-bench <collective> [-b min] [-e max] [-f factor] ... [-np N].
#include <prism/prism.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "perf/bench/launcher.h"
#include "perf/bench/options.h"
#include "perf/bench/report.h"
#include "perf/bench/runner.h"

int main(int argc, char** argv) {
  using namespace prism::bench;
  std::vector<std::string> args(argv + 1, argv + argc);
  ParseOutcome parsed = parseOptions(args, std::cout, std::cerr);
  if (!parsed.options) return parsed.exitCode;
  const Options& options = *parsed.options;
  if (options.printConfig) {
    prismPrintConfig(stdout);
    if (!options.collective) return 0;
  }
  return launchLocalRanks(
      options.nranks, [&options](const RankContext& context) { return runRank(options, context); });
}
