#include "tests/harness/shell.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace prism::test {

ShellOutcome runShell(const std::string& command, int timeoutSeconds) {
  const std::string line =
      "timeout -s KILL " + std::to_string(timeoutSeconds) + " " + command + " 2>&1";
  ShellOutcome outcome;
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return outcome;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) outcome.output.append(buffer, n);
  const int status = pclose(pipe);
  outcome.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return outcome;
}

std::string namespacesUnavailable() {
  static const std::string why = [] {
    if (geteuid() != 0) return std::string("not root: network namespaces need CAP_SYS_ADMIN");
    const std::string probe = "prism-probe-" + std::to_string(getpid());
    const ShellOutcome add = runShell("ip netns add " + probe, 10);
    if (add.status != 0) return "cannot create a network namespace: " + add.output;
    runShell("ip netns del " + probe, 10);
    return std::string();
  }();
  return why;
}

}  // namespace prism::test
