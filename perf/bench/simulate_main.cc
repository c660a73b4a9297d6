// prism-bench-sim: what `prism-bench <collective> --simulate FILE` runs (prism-bench execs
// it with the same arguments): the cost model's predictions for a cluster described by a
// fabric file. Linked with the library's internals, unlike prism-bench.
#include <iostream>
#include <string>
#include <vector>

#include "perf/bench/options.h"
#include "perf/bench/simulate.h"

int main(int argc, char** argv) {
  using namespace prism::bench;
  const std::vector<std::string> args(argv + 1, argv + argc);
  ParseOutcome parsed = parseOptions(args, std::cout, std::cerr);
  if (!parsed.options) return parsed.exitCode;
  if (parsed.options->simulatePath.empty()) {
    std::cerr << "prism-bench-sim: --simulate FILE is required\n";
    return 2;
  }
  return runSimulation(*parsed.options, std::cout, std::cerr);
}
