// prism-bench's command line: nccl-tests' flags and their long forms, parsed with CLI11,
// plus the size sweep they describe.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nccl.h"
#include "perf/bench/collectives.h"
#include "perf/bench/names.h"

namespace prism::bench {

/// How per-rank times are combined into the reported one (-a).
enum class Average { Rank0 = 0, Mean = 1, Min = 2, Max = 3 };

/// Where the send and receive buffers live (--mem): malloc'd host memory, cudaMalloc'd
/// device memory on device rank % deviceCount, whatever ncclMemAlloc returns, or a memfd
/// the rank maps shared itself (like a framework's shared-memory tensors).
enum class MemKind { Host, Device, NcclMem, Shm };

/// host, device, ncclmem or shm.
const char* memKindName(MemKind kind);
/// One of the names above, any case.
std::optional<MemKind> parseMemKind(std::string_view name);

/// Everything the command line controls. Defaults are nccl-tests' defaults.
struct Options {
  std::optional<Collective> collective;  ///< empty only with --print-config or --calibrate
  size_t minBytes = size_t{32} << 20;
  size_t maxBytes = size_t{32} << 20;
  size_t stepBytes = size_t{1} << 20;  ///< used when stepFactor is 1
  size_t stepFactor = 1;               ///< multiply sizes by this when above 1
  int iters = 20;
  int warmupIters = 5;
  bool check = true;
  std::vector<BenchOp> ops{BenchOp::Sum};
  std::vector<ncclDataType_t> types{ncclFloat32};
  int root = 0;  ///< -1: every rank in turn
  bool blocking = false;
  Average average = Average::Mean;
  int nranks = 1;    ///< processes (-np); each runs nthreads ranks
  int nthreads = 1;  ///< ranks per process as threads (-t)
  MemKind mem = MemKind::Host;
  /// -R: 1 registers the send and receive buffers with ncclCommRegister, 2 with
  /// ncclCommWindowRegister (symmetric), as nccl-tests' -R; 0 registers nothing.
  int registration = 0;
  int graphLaunches = 0;  ///< -G: launches of one captured CUDA graph; 0: no graph
  std::string jsonPath;   ///< empty: no JSON file
  std::string compare;    ///< "mpi": also run Open MPI on the same sweep; empty: no peer
  bool printConfig = false;
  /// --calibrate: measure the cost model's constants and write the profile here instead
  /// of running the sweep; empty: no calibration.
  std::string calibratePath;
  /// --link-gbit: the network link rate, for calibrating network_efficiency; 0: unknown.
  double linkGbit = 0;
  /// --predict: add the cost model's predicted time (ncclGroupSimulateEnd) to every row.
  bool predict = false;
  /// --simulate: predict the sweep on the cluster this fabric file describes instead of
  /// running it (perf/bench/simulate.h); empty: measure.
  std::string simulatePath;
  /// --ranks-per-host, with --simulate: ranks on every host; 0: one per GPU (or 1).
  int ranksPerHost = 0;
  /// --plot: also draw busbw against size as an SVG chart here; empty: no chart.
  std::string plotPath;
  /// --bind-to core|numa|none and --map-by core|numa, as mpirun's: how the local ranks are
  /// bound to cores (prismBindProcess, prismBindThread); empty: the default (core when the
  /// ranks fit the cores) and core order, or what a launcher's environment says.
  std::string bindTo;
  std::string mapBy;

  // nccl-tests' remaining flags (its src/common.cu); README.md's prism-bench table says
  // what each does on Prism.
  /// -g: nccl-tests' GPUs per thread. Every one is a rank of its own, so a process runs
  /// nthreads x ngpus thread ranks, as nccl-tests has nthreads x ngpus communicators.
  int ngpus = 1;
  int aggIters = 1;  ///< -m: calls per timed iteration, issued in one ncclGroupStart/End
  /// -c: nccl-tests' check count; each size is validated up to this many times (stopping
  /// at the first wrong value). 0: no validation (check is false).
  int checkIters = 1;
  int blockingMode = 0;           ///< -z as given (0-3); blocking is true for any nonzero value
  int runCycles = 1;              ///< -N: sweeps of every size; 0: until interrupted
  bool parallelInit = false;      ///< -p: thread ranks always initialize concurrently
  bool reportCpuTime = false;     ///< -C: report the time to issue the calls (no final wait)
  bool reportTimestamps = false;  ///< -S: a timestamp at the end of every row
  int timeoutS = 0;               ///< -T: seconds; >0 sets PRISM_TIMEOUT_S (see timeoutEnv)
  /// PRISM_TIMEOUT_S as the environment had it before -T applied (main fills it); when
  /// set, it wins over -T and the header says so.
  std::string timeoutEnv;
  bool memoryReport = false;      ///< -M: report the host memory the ranks use
  int unalign = 0;                ///< -u N: offset both buffers by N elements
  std::string outputFile;         ///< -J: nccl-tests' JSON document (ncclTestsJson)
  std::string csvPath;            ///< --csv: the result rows as CSV, overwritten
  std::string cumulativeCsvPath;  ///< -u FILE, --cumulative_csv: the rows appended as CSV
  bool showVersion = false;       ///< --version: print the versions and exit
  /// Accepted for nccl-tests' command lines; they have no effect on Prism and the header
  /// reports each one that is set: -y, -x, -D, -V, -I, -K.
  int streamNull = 0;
  int ctaPolicy = -1;
  int deviceImpl = 0;
  int deviceCtaCount = 16;
  int perIterTiming = 0;
  int perIterSkip = 0;
  /// The whole command line as the program got it (argv[0] included); the -J document
  /// records it as nccl-tests does. Filled by main, empty in parse results.
  std::vector<std::string> commandLine;

  /// Ranks each process runs as threads: nccl-tests' threads x GPUs per thread.
  int ranksPerProcess() const { return nthreads * ngpus; }
  /// Ranks in the communicator: processes x threads x GPUs per thread.
  int totalRanks() const { return nranks * ranksPerProcess(); }
};

/// Result of parsing: options to run with, or an exit code (0 after --help).
struct ParseOutcome {
  std::optional<Options> options;
  int exitCode = 0;
};

/// Parses a size such as "8", "64K", "32M" or "1G" (powers of 1024, either case, an
/// optional trailing "B"). Empty on malformed input or overflow.
std::optional<size_t> parseSize(std::string_view text);

/// Rewrites nccl-tests' single-dash "-np N" / "-np=N" as "--nranks", which CLI11 can
/// parse; CLI11 would read "-np" as "-n p". Other arguments pass through.
std::vector<std::string> translateArgs(const std::vector<std::string>& args);

/// Parses `args` (without the program name). Help goes to `out`, errors to `err`.
/// `program` names the binary in help and errors; invoked under an nccl-tests name
/// (program_aliases.h), the collective is the name's and is not taken from `args`.
ParseOutcome parseOptions(const std::vector<std::string>& args, std::ostream& out,
                          std::ostream& err, std::string_view program = "prism-bench");

/// The sizes to measure, in order: minBytes, then times stepFactor (when above 1) or plus
/// stepBytes, while not above maxBytes.
std::vector<size_t> sizeSweep(const Options& options);

/// The roots to measure for `collective`: {-1} where no root applies, every rank (of
/// totalRanks) for root -1, else {root}.
std::vector<int> rootSweep(const Options& options, Collective collective);

}  // namespace prism::bench
