#include "tests/harness/forked_ranks.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>

namespace prism::test {

std::vector<Report> forkAll(const std::vector<std::function<void(Report&)>>& bodies,
                            std::chrono::seconds limit, std::vector<bool>* exited,
                            const std::vector<bool>& straggler) {
  using Clock = std::chrono::steady_clock;
  const size_t n = bodies.size();
  void* mem = ::mmap(nullptr, n * sizeof(Report), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("mmap");
  auto* reports = static_cast<Report*>(mem);
  std::memset(reports, 0, n * sizeof(Report));
  std::vector<pid_t> pids;
  for (size_t i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      reports[i].result = -1;
      reports[i].pid = static_cast<int>(::getpid());
      try {
        bodies[i](reports[i]);
      } catch (const std::exception& e) {
        std::snprintf(reports[i].message, sizeof(reports[i].message), "exception: %s", e.what());
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  exited->assign(n, false);
  std::vector<bool> reaped(n, false);
  const auto deadline = Clock::now() + limit;
  auto marked = [&](size_t i) { return i < straggler.size() && straggler[i]; };
  while (true) {
    bool othersDone = true;
    for (size_t i = 0; i < n; ++i) {
      if (reaped[i]) continue;
      int status = 0;
      if (::waitpid(pids[i], &status, WNOHANG) == pids[i]) {
        reaped[i] = true;
        (*exited)[i] = WIFEXITED(status);
      } else if (!marked(i)) {
        othersDone = false;
      }
    }
    const bool late = Clock::now() > deadline;
    if (othersDone || late) {
      for (size_t i = 0; i < n; ++i) {
        if (reaped[i] || !(late || marked(i))) continue;
        ::kill(pids[i], SIGKILL);
        int status = 0;
        ::waitpid(pids[i], &status, 0);
        reaped[i] = true;
      }
    }
    bool all = true;
    for (bool r : reaped) all &= r;
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<Report> out(reports, reports + n);
  ::munmap(mem, n * sizeof(Report));
  return out;
}

void noteError(Report& r, ncclResult_t result, ncclComm_t comm) {
  r.result = result;
  std::snprintf(r.message, sizeof(r.message), "%s", ncclGetLastError(comm));
  ncclResult_t async = ncclSuccess;
  if (comm != nullptr) r.async = ncclCommGetAsyncError(comm, &async) == ncclSuccess ? async : -1;
}

}  // namespace prism::test
