#include "tools/prism-run/netns_fabric.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tools/prism-run/process.h"

namespace prism::run {
namespace {

void ip(const std::string& netns, std::vector<std::string> args) {
  std::vector<std::string> argv = {"ip"};
  if (!netns.empty()) argv.insert(argv.end(), {"-n", netns});
  argv.insert(argv.end(), args.begin(), args.end());
  runChecked(argv);
}

}  // namespace

NetnsFabric::NetnsFabric(const FabricNames& names, const FabricOptions& options)
    : names_(names), options_(options) {
  if (geteuid() != 0) {
    throw SetupError("not root: network namespaces need CAP_SYS_ADMIN (run prism-run as root)");
  }
  try {
    create();
  } catch (...) {
    teardown();
    throw;
  }
}

NetnsFabric::~NetnsFabric() { teardown(); }

std::string NetnsFabric::innetEndpoint() const {
  if (options_.innet.empty()) return "";
  return names_.innetAddress() + ":" + std::to_string(options_.innetPort);
}

void NetnsFabric::create() {
  const std::string sw = names_.switchNamespace();
  ip("", {"netns", "add", sw});
  namespaces_.push_back(sw);
  ip(sw, {"link", "set", "lo", "up"});
  ip(sw, {"link", "add", "name", names_.bridge(), "type", "bridge"});
  ip(sw, {"link", "set", names_.bridge(), "up"});
  for (int host = 0; host < options_.hosts; ++host) addHost(host);
  if (!options_.innet.empty()) startInnet();
}

void NetnsFabric::addHost(int host) {
  const std::string ns = names_.hostNamespace(host);
  const std::string sw = names_.switchNamespace();
  ip("", {"netns", "add", ns});
  namespaces_.push_back(ns);
  ip(ns, {"link", "set", "lo", "up"});
  // Both ends are created directly in their namespaces: nothing appears in ours.
  ip("", {"link", "add", "name", names_.hostLink(host), "netns", ns, "type", "veth", "peer", "name",
          names_.switchLink(host), "netns", sw});
  ip(sw, {"link", "set", names_.switchLink(host), "master", names_.bridge()});
  ip(sw, {"link", "set", names_.switchLink(host), "up"});
  ip(ns, {"addr", "add", names_.hostAddress(host) + "/24", "dev", names_.hostLink(host)});
  ip(ns, {"link", "set", names_.hostLink(host), "up"});
  shape(ns, names_.hostLink(host));    // host -> switch
  shape(sw, names_.switchLink(host));  // switch -> host
}

void NetnsFabric::shape(const std::string& netns, const std::string& link) {
  if (options_.bandwidth.empty() && options_.delay.empty()) return;
  std::vector<std::string> argv = {"tc", "-n", netns, "qdisc", "add", "dev", link, "root"};
  uint64_t bits = parseBitsPerSecond(options_.bandwidth);
  std::string rate = std::to_string(bits) + "bit";
  if (!options_.delay.empty()) {
    argv.insert(argv.end(), {"netem", "delay", options_.delay, "limit", "100000"});
    if (bits > 0) argv.insert(argv.end(), {"rate", rate});
  } else {
    argv.insert(argv.end(), {"tbf", "rate", rate, "burst", std::to_string(tbfBurstBytes(bits)),
                             "latency", "100ms"});
  }
  std::string output;
  if (runCaptured(argv, &output) != 0) {
    if (!options_.delay.empty() && output.find("unknown") != std::string::npos) {
      throw SetupError(
          "--delay needs tc's netem qdisc (kernel module sch_netem), which this "
          "kernel does not offer: " +
          output);
    }
    throw SetupError("shaping " + link + " with tc failed: " + output);
  }
}

void NetnsFabric::startInnet() {
  const std::string endpoint = innetEndpoint();
  ip(names_.switchNamespace(),
     {"addr", "add", names_.innetAddress() + "/24", "dev", names_.bridge()});
  SpawnSpec spec;
  for (const std::string& arg : options_.innet) {
    spec.argv.push_back(arg == "{innet}" ? endpoint : arg);
  }
  spec.env = {"PRISM_INNET_ADDR=" + endpoint};
  spec.netns = names_.switchNamespace();
  innet_ = spawn(spec);
  // Give the service a moment to listen; ranks connect to it only at their first
  // collective, after communicator setup, and retry within their own deadline.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int status = 0;
  if (waitpid(innet_, &status, WNOHANG) == innet_) {
    innet_ = 0;
    throw SetupError("--innet command " + describeStatus(status) + " at once");
  }
}

void NetnsFabric::teardown() noexcept {
  if (innet_ > 0) {
    kill(-innet_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 40 && waitpid(innet_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(-innet_, SIGKILL);
    waitpid(innet_, &status, 0);
    innet_ = 0;
  }
  // Deleting a namespace deletes the veth ends and the bridge inside it.
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    std::string output;
    try {
      if (runCaptured({"ip", "netns", "del", *it}, &output) != 0) {
        std::fprintf(stderr, "prism-run: could not remove network namespace %s: %s\n", it->c_str(),
                     output.c_str());
      }
    } catch (const SetupError& e) {
      std::fprintf(stderr, "prism-run: could not remove network namespace %s: %s\n", it->c_str(),
                   e.what());
    }
  }
  namespaces_.clear();
}

int removeStaleFabrics() {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/var/run/netns", ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("prism-")) continue;
    long pid = std::strtol(name.c_str() + 6, nullptr, 10);
    if (pid <= 0 || kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::string output;
    if (runCaptured({"ip", "netns", "del", name}, &output) == 0) ++removed;
  }
  return removed;
}

}  // namespace prism::run
