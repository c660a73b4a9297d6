#include "tools/prism-run/process.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "topology/cpu_binding.h"

namespace prism::run {
namespace {

constexpr int kHandledSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};

// In the child, before exec: nothing here may allocate after a fork of a threaded program,
// and prism-run is single-threaded, so plain C++ is safe.
[[noreturn]] void childExec(const SpawnSpec& spec, pid_t parent) {
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  // A shell starts background jobs with SIGINT ignored; ranks get the defaults back.
  for (int sig : kHandledSignals) signal(sig, SIG_DFL);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  if (spec.ownProcessGroup) setpgid(0, 0);
  // The descriptors are close-on-exec; their dup2 copies are not.
  if (spec.stdoutFd >= 0) dup2(spec.stdoutFd, STDOUT_FILENO);
  if (spec.stderrFd >= 0) dup2(spec.stderrFd, STDERR_FILENO);
  if (!spec.netns.empty()) {
    std::string path = "/var/run/netns/" + spec.netns;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "prism-run: cannot enter network namespace %s: %s\n", spec.netns.c_str(),
                   std::strerror(errno));
      _exit(127);
    }
    close(fd);
    // As `ip netns exec` does: a private mount namespace with sysfs mounted anew, so
    // /sys/class/net lists this namespace's interfaces (UCX and hwloc read them there).
    if (unshare(CLONE_NEWNS) != 0 || mount("", "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0 ||
        umount2("/sys", MNT_DETACH) != 0 ||
        mount(spec.netns.c_str(), "/sys", "sysfs", 0, nullptr) != 0) {
      std::fprintf(stderr,
                   "prism-run: cannot mount sysfs for network namespace %s (%s); /sys/class/net "
                   "shows the host's interfaces\n",
                   spec.netns.c_str(), std::strerror(errno));
    }
  }
  if (!spec.cpus.empty()) {
    const std::string failure = topo::bindCpus(spec.cpus, topo::BindScope::Process);
    if (!failure.empty()) {
      std::fprintf(stderr, "prism-run: cannot bind to cpus %s (%s); running unbound\n",
                   topo::formatCpuList(spec.cpus).c_str(), failure.c_str());
    }
  }
  for (const std::string& entry : spec.env) putenv(const_cast<char*>(entry.c_str()));
  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::fprintf(stderr, "prism-run: cannot run %s: %s\n", argv[0], std::strerror(errno));
  _exit(127);
}

pid_t forkChild(const SpawnSpec& spec) {
  if (spec.argv.empty()) throw SetupError("empty command");
  std::fflush(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw SetupError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) childExec(spec, parent);
  // Also from the parent, so that a signal sent right after spawn reaches the group.
  if (spec.ownProcessGroup) setpgid(pid, pid);
  return pid;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

}  // namespace

pid_t spawn(const SpawnSpec& spec) { return forkChild(spec); }

int runCaptured(const std::vector<std::string>& argv, std::string* output) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw SetupError(std::string("pipe: ") + std::strerror(errno));
  SpawnSpec spec;
  spec.argv = argv;
  spec.ownProcessGroup = false;
  spec.stdoutFd = spec.stderrFd = fds[1];
  pid_t pid;
  try {
    pid = forkChild(spec);
  } catch (...) {
    close(fds[0]);
    close(fds[1]);
    throw;
  }
  close(fds[1]);
  output->clear();
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    output->append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!output->empty() && (output->back() == '\n' || output->back() == ' ')) {
    output->pop_back();
  }
  return shellStatus(status);
}

void runChecked(const std::vector<std::string>& argv) {
  std::string output;
  if (runCaptured(argv, &output) != 0) {
    size_t newline = output.find('\n');
    if (newline != std::string::npos) output.resize(newline);
    throw SetupError(joined(argv) + ": " + (output.empty() ? "failed" : output));
  }
}

int shellStatus(int waitStatus) {
  if (WIFEXITED(waitStatus)) return WEXITSTATUS(waitStatus);
  if (WIFSIGNALED(waitStatus)) return 128 + WTERMSIG(waitStatus);
  return 1;
}

std::string describeStatus(int waitStatus) {
  if (WIFSIGNALED(waitStatus)) {
    return "was killed by signal " + std::to_string(WTERMSIG(waitStatus)) + " (" +
           strsignal(WTERMSIG(waitStatus)) + ")";
  }
  return "exited with status " + std::to_string(shellStatus(waitStatus));
}

void blockHandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kHandledSignals) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
}

int waitForSignal(int millis) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kHandledSignals) sigaddset(&set, sig);
  timespec timeout{millis / 1000, (millis % 1000) * 1000000L};
  int sig = sigtimedwait(&set, nullptr, &timeout);
  return sig > 0 ? sig : 0;
}

}  // namespace prism::run
