// prism-train: trains the reference GPT with one parallel mode and prints, per step, the
// loss, the step time, the traffic per collective type and the exposed communication.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "train/parallel/options.h"
#include "train/parallel/thread_ranks.h"
#include "train/parallel/trainer.h"

int main(int argc, char** argv) {
  using namespace prism::train;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& a : args)
    if (a == "--help" || a == "-h") {
      std::cout << usage();
      return 0;
    }
  try {
    const Options options = parseOptions(args);
    std::ostream* log = options.quiet ? nullptr : &std::cout;
    auto run = [&](prism::Comm& world) {
      if (log && world.rank() == 0)
        *log << "prism-train mode " << modeName(options.mode) << "  ranks " << world.size()
             << "  dp " << options.mesh.dp << " tp " << options.mesh.tp << " pp " << options.mesh.pp
             << " cp " << options.mesh.cp << " ep " << options.mesh.ep << "  microbatches "
             << options.microbatches << "  matmul on " << (options.deviceCompute ? "cuda" : "cpu")
             << "  comm buffers "
             << (options.memory == prism::overlap::Memory::Device ? "cuda" : "host") << std::endl;
      train(world, options, log);
    };
    if (options.threads > 0 || options.worldSize() == 1) {
      runThreadRanks(options.threads > 0 ? options.threads : 1, run);
    } else {
      prism::Comm world = prism::Comm::fromEnvironment();
      run(world);
    }
  } catch (const std::exception& e) {
    // One write(): ranks share the terminal or pipe, and a line written in pieces
    // interleaves with theirs (a pipe keeps writes of up to PIPE_BUF bytes whole).
    const std::string line = "prism-train: " + std::string(e.what()) + "\n";
    [[maybe_unused]] ssize_t written = write(STDERR_FILENO, line.data(), line.size());
    return 1;
  }
  return 0;
}
