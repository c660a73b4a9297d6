#include "perf/bench/compare.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace prism::bench {
namespace {

#ifdef PRISM_BENCH_MPI_BIN
constexpr const char* kMpiBench = PRISM_BENCH_MPI_BIN;
constexpr const char* kMpirun = PRISM_BENCH_MPIRUN;
#else
constexpr const char* kMpiBench = nullptr;
constexpr const char* kMpirun = nullptr;
#endif

/// Runs argv with `env` added, returning its stdout; the exit status goes to `status`.
std::string capture(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    int& status) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    status = -1;
    return {};
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    for (const std::string& kv : env) putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "prism-bench: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buffer[4096];
  ssize_t got;
  while ((got = read(fds[0], buffer, sizeof buffer)) > 0) out.append(buffer, got);
  close(fds[0]);
  status = -1;
  if (pid > 0) waitpid(pid, &status, 0);
  return out;
}

const char* mpiCollectiveName(Collective c) {
  switch (c) {
    case Collective::AllReduce:
      return "allreduce";
    case Collective::AllGather:
      return "allgather";
    case Collective::ReduceScatter:
      return "reducescatter";
    case Collective::Broadcast:
      return "broadcast";
    case Collective::AllToAll:
      return "alltoall";
    default:
      return nullptr;
  }
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t mid = v.size() / 2;
  return v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

}  // namespace

std::string compareUnsupported(const Options& options) {
  if (kMpiBench == nullptr) return "this prism-bench was built without MPI (no MPI found by CMake)";
  if (!options.collective || mpiCollectiveName(*options.collective) == nullptr) {
    return "--compare mpi supports allreduce, allgather, reducescatter, broadcast and alltoall";
  }
  if (options.types.size() != 1 || options.types[0] != ncclFloat32 || options.ops.size() != 1 ||
      options.ops[0] != BenchOp::Sum) {
    return "--compare mpi compares float32 sum (-d float -o sum)";
  }
  if (options.stepFactor < 2) return "--compare mpi needs a geometric sweep (-f 2 or more)";
  if (options.ranksPerProcess() != 1 || options.mem != MemKind::Host) {
    return "--compare mpi compares processes on host memory (-t 1 -g 1 --mem host)";
  }
  return {};
}

std::vector<PeerRow> parsePeerRows(const std::string& text) {
  std::vector<PeerRow> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.find('#') != std::string::npos) continue;
    std::istringstream fields(line);
    PeerRow row;
    size_t count;
    std::string type;
    double algbw;
    if (fields >> row.bytes >> count >> type >> row.timeUs >> algbw >> row.busBw >> row.wrong) {
      rows.push_back(row);
    }
  }
  return rows;
}

PeerResult runMpiPeer(const Options& options) {
  PeerResult result;
  result.name = "Open MPI (tuned allocator)";
  result.error = compareUnsupported(options);
  if (!result.error.empty()) return result;
  std::vector<std::string> argv = {kMpirun,     "-np",  std::to_string(options.nranks),
                                   "--bind-to", "none", "--oversubscribe"};
  if (geteuid() == 0) argv.push_back("--allow-run-as-root");
  // "Tuned" as issue 3 measured Open MPI: glibc keeps freed memory, so MPI's per-call
  // buffers are not faulted in afresh on every call.
  for (const char* name : {"MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_"}) {
    argv.push_back("-x");
    argv.push_back(name);
  }
  const std::vector<std::string> tail = {
      kMpiBench, mpiCollectiveName(*options.collective),
      "-b",      std::to_string(options.minBytes),
      "-e",      std::to_string(options.maxBytes),
      "-f",      std::to_string(std::max<size_t>(options.stepFactor, 2)),
      "-n",      std::to_string(options.iters),
      "-w",      std::to_string(std::max(options.warmupIters, 1))};
  argv.insert(argv.end(), tail.begin(), tail.end());
  int status = 0;
  const std::string out =
      capture(argv, {"MALLOC_MMAP_MAX_=0", "MALLOC_TRIM_THRESHOLD_=-1"}, status);
  result.rows = parsePeerRows(out);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    result.error = std::string(kMpirun) + " exited with status " +
                   std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  } else if (result.rows.empty()) {
    result.error = "no result rows from " + std::string(kMpiBench);
  }
  return result;
}

std::string formatComparison(const Report& prism, const PeerResult& peer) {
  std::ostringstream out;
  char line[256];
  out << "# Comparison with " << peer.name << ", same sizes, iterations and busbw formula\n";
  if (!peer.error.empty()) {
    out << "#  not compared: " << peer.error << "\n";
    return out.str();
  }
  std::snprintf(line, sizeof line, "#%12s %11s %11s %11s %11s %8s\n", "size", "prism(us)",
                "peer(us)", "prism busbw", "peer busbw", "ratio");
  out << line;
  std::vector<double> ratios;
  for (const ResultRow& row : prism.rows()) {
    auto it = std::find_if(peer.rows.begin(), peer.rows.end(),
                           [&](const PeerRow& p) { return p.bytes == row.bytes; });
    if (it == peer.rows.end() || row.outOfPlace.timeUs <= 0) continue;
    const double busBw = algBw(row.bytes, row.outOfPlace.timeUs) *
                         busBandwidthFactor(prism.collective(), prism.nranks());
    // Small sizes are decided by latency, large ones by bandwidth.
    const double ratio = row.bytes <= 4096 ? it->timeUs / row.outOfPlace.timeUs
                                           : (it->busBw > 0 ? busBw / it->busBw : 0);
    ratios.push_back(ratio);
    std::snprintf(line, sizeof line, " %12zu %11.2f %11.2f %11.2f %11.2f %7.2fx\n", row.bytes,
                  row.outOfPlace.timeUs, it->timeUs, busBw, it->busBw, ratio);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "# Median ratio: %.2fx (time ratio up to 4 KiB, busbw ratio above; >1 means "
                "Prism is ahead)\n",
                median(ratios));
  out << line;
  return out.str();
}

}  // namespace prism::bench
