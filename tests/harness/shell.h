// Running fixed command lines from tests (prism-run, prism-bench, ip): output captured,
// and a hang turned into a failure by `timeout`.
#pragma once

#include <string>

namespace prism::test {

struct ShellOutcome {
  int status = -1;  ///< the exit status (128 + signal when killed)
  std::string output;
};

/// Runs `command` (a fixed line, never user input) under `sh`, with stdout and stderr
/// captured; `timeout -s KILL` ends it after `timeoutSeconds`.
ShellOutcome runShell(const std::string& command, int timeoutSeconds = 50);

/// Why network namespaces cannot be created here ("" when they can), probed once with a
/// throwaway namespace.
std::string namespacesUnavailable();

}  // namespace prism::test
