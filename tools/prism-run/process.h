// Starting and reaping child processes without a shell: argument vectors only. prism-run
// blocks SIGINT/SIGTERM/SIGHUP/SIGCHLD in itself (it reads them with sigtimedwait);
// every child gets a clean signal mask back before it runs anything.
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace prism::run {

/// A setup step failed; the message is one line saying why.
class SetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How a child should start.
struct SpawnSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;  ///< "NAME=value" added to (or replacing in) ours
  std::string netns;             ///< named network namespace to enter first; "" = ours
  bool ownProcessGroup = true;   ///< so a signal can reach the child's descendants too
  /// CPUs the child is bound to before exec, as mpirun binds a rank: the program and every
  /// thread it starts inherit them. Empty: the child keeps prism-run's.
  std::vector<int> cpus;
  /// Descriptors that become the child's stdout and stderr; -1 keeps prism-run's.
  int stdoutFd = -1;
  int stderrFd = -1;
};

/// Forks and execs `spec`. The child dies with prism-run (PR_SET_PDEATHSIG). Returns its
/// pid; a child that cannot enter its namespace or exec exits 127 after saying why.
pid_t spawn(const SpawnSpec& spec);

/// Runs `argv` to completion with stdout and stderr captured. Returns the exit status
/// (128 + signal when killed) and fills `output` (trimmed).
int runCaptured(const std::vector<std::string>& argv, std::string* output);

/// runCaptured, throwing SetupError("<argv...>: <output>") unless it exits 0.
void runChecked(const std::vector<std::string>& argv);

/// An exit status as a shell reports it: the exit code, or 128 + signal.
int shellStatus(int waitStatus);
/// "exited with status 3" or "was killed by signal 9 (Killed)".
std::string describeStatus(int waitStatus);

/// Blocks the signals prism-run handles itself; call once at the start of main.
void blockHandledSignals();

/// Waits up to `millis` for one of the handled signals and returns it (SIGCHLD included),
/// or 0 when none arrived.
int waitForSignal(int millis);

}  // namespace prism::run
