// An emulated multi-host fabric on one machine: one network namespace per host and one for
// the switch, a bridge in the switch namespace, a veth pair per host (host end addressed
// 10.x.0.<h+1>/24, switch end on the bridge), both directions shaped with tc. Optionally a
// command (an in-network aggregation service) runs in the switch namespace at 10.x.0.254.
// Everything is removed by the destructor, and by the constructor when a step fails.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tools/prism-run/fabric_plan.h"

namespace prism::run {

struct FabricOptions {
  int hosts = 1;
  std::string bandwidth;           ///< "" = unshaped; else e.g. "1gbit"
  std::string delay;               ///< "" = none; else e.g. "50us" (needs tc's netem)
  std::vector<std::string> innet;  ///< argv of the switch's service; "" = none
  int innetPort = 0;
};

class NetnsFabric {
 public:
  /// Creates the fabric. Throws SetupError saying why (not root, iproute2 missing, a tc
  /// qdisc this kernel lacks) after removing whatever it had created.
  NetnsFabric(const FabricNames& names, const FabricOptions& options);
  ~NetnsFabric();
  NetnsFabric(const NetnsFabric&) = delete;
  NetnsFabric& operator=(const NetnsFabric&) = delete;

  const FabricNames& names() const { return names_; }
  /// "10.x.0.254:port" when a service runs in the switch namespace, else "".
  std::string innetEndpoint() const;

 private:
  void create();
  void addHost(int host);
  void shape(const std::string& netns, const std::string& link);
  void startInnet();
  void teardown() noexcept;

  FabricNames names_;
  FabricOptions options_;
  std::vector<std::string> namespaces_;  // created so far, removed in teardown
  pid_t innet_ = 0;
};

/// Removes namespaces named prism-<pid>-* whose prism-run (pid) no longer runs: what a
/// prism-run killed with SIGKILL left behind. Returns how many were removed.
int removeStaleFabrics();

}  // namespace prism::run
