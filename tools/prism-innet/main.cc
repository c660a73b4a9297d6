// prism-innet: the in-network aggregation service. Ranks of a communicator stream their
// AllReduce contributions here chunk by chunk; the service reduces each chunk in rank
// order and sends the result back to every rank (docs/in-network.md).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "base/error.h"
#include "tools/prism-innet/service.h"
#include "transports/in_network/in_network_protocol.h"

namespace {

std::atomic<bool> gStop{false};

void onSignal(int) { gStop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"prism-innet: in-network aggregation service for Prism AllReduce"};
  std::string listen = "0.0.0.0:18515";
  prism::innet::ServiceOptions options;
  int timeout = static_cast<int>(options.timeout.count());
  size_t maxJobMiB = options.maxJobBytes >> 20;
  app.add_option("--listen", listen, "ADDR:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--threads", options.threads, "event-loop threads (jobs are spread over them)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--timeout", timeout, "seconds a job may make no progress before it fails")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--max-job-mib", maxJobMiB, "largest chunk pool one job may ask for (MiB)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  options.timeout = std::chrono::seconds(timeout);
  options.maxJobBytes = maxJobMiB << 20;
  try {
    prism::innet::Service service(prism::innet::parseAddress(listen), options);
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    std::signal(SIGPIPE, SIG_IGN);
    // The bound address on stdout, one line, so that a launcher can wait for it.
    std::printf("prism-innet listening on %s\n", service.address().toString().c_str());
    std::fflush(stdout);
    service.run(gStop);
  } catch (const prism::Error& e) {
    std::fprintf(stderr, "prism-innet: %s\n", e.what());
    return 1;
  }
  return 0;
}
