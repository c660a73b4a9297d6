#include "perf/bench/options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <limits>
#include <ostream>
#include <tuple>

#include "perf/bench/compare.h"
#include "perf/bench/program_aliases.h"

namespace prism::bench {
namespace {

constexpr size_t kMaxSize = std::numeric_limits<size_t>::max();
// More local ranks than this is a typo, not a benchmark.
constexpr int kMaxRanks = 4096;

struct MemKindName {
  const char* name;
  MemKind kind;
};
constexpr MemKindName kMemKindNames[] = {{"host", MemKind::Host},
                                         {"device", MemKind::Device},
                                         {"ncclmem", MemKind::NcclMem},
                                         {"shm", MemKind::Shm}};

// Reads a size flag given as text into `target`, or reports which flag was malformed.
bool convertSize(const std::string& text, const char* flag, size_t& target, std::ostream& err) {
  if (text.empty()) return true;
  auto value = parseSize(text);
  if (!value) {
    err << "prism-bench: " << flag << ": '" << text << "' is not a size (e.g. 8, 64K, 32M, 1G)\n";
    return false;
  }
  target = *value;
  return true;
}

// A whole decimal integer (with an optional '-'), or empty.
std::optional<int> parseInt(const std::string& text) {
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

bool validate(const Options& o, std::ostream& err) {
  auto fail = [&err](const std::string& message) {
    err << "prism-bench: " << message << "\n";
    return false;
  };
  if (!o.collective && !o.printConfig && o.calibratePath.empty() && !o.showVersion) {
    return fail(std::string("a collective is required: ") + collectiveNameList());
  }
  if (o.minBytes > o.maxBytes) return fail("minbytes is larger than maxbytes");
  if (o.stepFactor == 0) return fail("stepfactor must be at least 1");
  if (o.stepFactor == 1 && o.stepBytes == 0 && o.minBytes != o.maxBytes) {
    return fail("stepbytes must be positive when stepfactor is 1");
  }
  if (o.minBytes == 0 && o.stepFactor > 1) return fail("minbytes must be positive with -f");
  if (o.iters < 1) return fail("iters must be at least 1");
  if (o.warmupIters < 0) return fail("warmup_iters must not be negative");
  if (o.nranks < 1) return fail("nranks must be at least 1");
  if (o.nthreads < 1) return fail("nthreads must be at least 1");
  if (o.ngpus < 1) return fail("ngpus must be at least 1");
  if (o.nthreads > kMaxRanks || o.ngpus > kMaxRanks || o.nranks > kMaxRanks / o.ranksPerProcess()) {
    return fail("nranks x nthreads x ngpus must not exceed " + std::to_string(kMaxRanks));
  }
  if (o.root < -1 || o.root >= o.totalRanks()) {
    return fail("root must be -1 (all) or a rank below nranks x nthreads x ngpus (" +
                std::to_string(o.totalRanks()) + ")");
  }
  if (o.aggIters < 1) return fail("agg_iters must be at least 1");
  if (o.runCycles < 0) return fail("run_cycles must not be negative");
  if (o.checkIters < 0) return fail("check must not be negative");
  if (o.timeoutS < 0) return fail("timeout must not be negative");
  if (o.unalign < 0) return fail("unalign must not be negative");
  if (o.graphLaunches < 0) return fail("cudagraph must not be negative");
  // Capturing needs a stream that the calls run on, which only device memory has.
  if (o.graphLaunches > 0 && o.mem != MemKind::Device) {
    return fail(std::string("-G (CUDA graph) needs --mem device, not --mem ") + memKindName(o.mem));
  }
  if (o.linkGbit < 0) return fail("link-gbit must not be negative");
  if (o.ranksPerHost < 0) return fail("ranks-per-host must not be negative");
  if (o.ranksPerHost > 0 && o.simulatePath.empty()) {
    return fail("--ranks-per-host places simulated ranks: it needs --simulate");
  }
  if (!o.simulatePath.empty() && (o.totalRanks() > 1 || !o.calibratePath.empty() ||
                                  !o.compare.empty() || o.predict || o.mem != MemKind::Host)) {
    return fail(
        "--simulate runs nothing: it takes no -np, -t, --mem, --calibrate, --compare or "
        "--predict (the file and --ranks-per-host say where the ranks are)");
  }
  if (!o.plotPath.empty() &&
      (o.plotPath.size() < 4 || o.plotPath.compare(o.plotPath.size() - 4, 4, ".svg") != 0)) {
    return fail("--plot writes SVG: name the file *.svg, not '" + o.plotPath + "'");
  }
  // The cost model describes the host path; device buffers take another engine.
  if (!o.calibratePath.empty() && (o.mem != MemKind::Host || o.graphLaunches > 0)) {
    return fail("--calibrate measures the host path: use --mem host without -G");
  }
  return true;
}

}  // namespace

const char* memKindName(MemKind kind) {
  for (const MemKindName& entry : kMemKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "?";
}

std::optional<MemKind> parseMemKind(std::string_view name) {
  std::string key;
  for (char ch : name) key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const MemKindName& entry : kMemKindNames) {
    if (key == entry.name) return entry.kind;
  }
  return std::nullopt;
}

std::optional<size_t> parseSize(std::string_view text) {
  size_t pos = 0;
  size_t value = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    size_t digit = static_cast<size_t>(text[pos] - '0');
    if (value > (kMaxSize - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    ++pos;
  }
  if (pos == 0) return std::nullopt;
  std::string_view suffix = text.substr(pos);
  if (!suffix.empty() && (suffix.back() == 'B' || suffix.back() == 'b')) {
    suffix.remove_suffix(1);
  }
  int shift = 0;
  if (suffix.size() == 1) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      default:
        return std::nullopt;
    }
  } else if (!suffix.empty()) {
    return std::nullopt;
  }
  if (value > (kMaxSize >> shift)) return std::nullopt;
  return value << shift;
}

std::vector<std::string> translateArgs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  for (const std::string& arg : args) {
    if (arg == "-np") {
      out.push_back("--nranks");
    } else if (arg.starts_with("-np=")) {
      out.push_back("--nranks=" + arg.substr(4));
    } else {
      out.push_back(arg);
    }
  }
  return out;
}

ParseOutcome parseOptions(const std::vector<std::string>& args, std::ostream& out,
                          std::ostream& err, std::string_view program) {
  Options o;
  std::string collective, minText, maxText, stepText, opText = "sum", typeText = "float";
  std::string rootText = "0", memText = "host", unalignText;
  int average = 1, parallelInit = 0, cpuTime = 0, timestamps = 0, memoryReport = 0;

  const ProgramAlias* alias = findProgramAlias(program);
  const std::string name(program.substr(program.rfind('/') + 1));
  if (alias != nullptr && !alias->collective) {
    err << name << ": " << alias->unsupported << "\n";
    return ParseOutcome{std::nullopt, 2};
  }
  CLI::App app{"prism-bench: measure Prism collectives like nccl-tests", name};
  // A repeated flag takes its last value, so wrappers can append overrides to defaults.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  if (alias == nullptr) {
    app.footer("Example: prism-bench allreduce -np 4 -b 8 -e 32M -f 4");
    app.add_option("collective", collective, collectiveNameList());
  } else {
    // Under an nccl-tests name the name is the collective, as with nccl-tests' binaries.
    o.collective = alias->collective;
    app.footer("Example: " + name + " -b 8 -e 128M -f 2 -g 1");
  }
  app.add_option("-b,--minbytes", minText, "smallest size (K/M/G suffixes), default 32M");
  app.add_option("-e,--maxbytes", maxText, "largest size, default 32M");
  app.add_option("-i,--stepbytes", stepText, "size increment when -f is 1, default 1M");
  app.add_option("-f,--stepfactor", o.stepFactor, "size multiplier, default 1 (use -i)");
  app.add_option("-n,--iters", o.iters, "timed iterations per size, default 20");
  app.add_option("-w,--warmup_iters", o.warmupIters, "untimed iterations first, default 5");
  app.add_option("-m,--agg_iters", o.aggIters,
                 "calls per timed iteration, issued in one ncclGroupStart/End; default 1");
  app.add_option("-N,--run_cycles", o.runCycles,
                 "sweeps of all sizes, each printed; 0: until interrupted; default 1");
  app.add_option("-c,--check", o.checkIters,
                 "validate each size this many times (0: not at all), default 1");
  app.add_option("-o,--op", opText, "sum, prod, min, max, avg, mulsum or all; default sum");
  app.add_option("-d,--datatype", typeText,
                 "int8 uint8 int32 uint32 int64 uint64 half float double bfloat16 f8e4m3 "
                 "f8e5m2 or all; default float");
  app.add_option("-r,--root", rootText, "root rank, or all (-1); default 0");
  app.add_option("-z,--blocking", o.blockingMode,
                 "1-3: confirm completion with ncclCommGetAsyncError after every call (nccl-"
                 "tests' barrier variants wait the same way here); default 0")
      ->check(CLI::Range(0, 3));
  app.add_option("-a,--average", average,
                 "combine rank times: 0 rank 0, 1 mean, 2 min, 3 max; default 1")
      ->check(CLI::Range(0, 3));
  app.add_option("--nranks", o.nranks, "local rank processes to fork (also -np), default 1");
  app.add_option("-t,--nthreads", o.nthreads,
                 "threads per process; ranks = nranks x nthreads x ngpus; default 1");
  app.add_option("-g,--ngpus", o.ngpus,
                 "nccl-tests' GPUs per thread: each is one more thread rank; default 1");
  app.add_option("-p,--parallel_init", parallelInit,
                 "0/1, accepted: thread ranks always initialize concurrently")
      ->check(CLI::Range(0, 1));
  app.add_option("-C,--report_cputime", cpuTime,
                 "1: report the time to issue the calls (nccl-tests' cputime) instead of the "
                 "time until they complete")
      ->check(CLI::Range(0, 1));
  app.add_option("-S,--report_timestamps", timestamps, "1: end every row with a timestamp")
      ->check(CLI::Range(0, 1));
  app.add_option("-T,--timeout", o.timeoutS,
                 "fail a wait that makes no progress for this many seconds (PRISM_TIMEOUT_S; "
                 "a value in the environment wins); default 0: Prism's own");
  app.add_option("-M,--memory,--memory_report", memoryReport,
                 "1: report the host memory the ranks use (resident set)")
      ->check(CLI::Range(0, 1));
  app.add_option("-u", unalignText,
                 "an integer N: as --unalign N; anything else: as --cumulative_csv FILE");
  app.add_option("--unalign", o.unalign, "offset both buffers by N elements, default 0");
  app.add_option("--cumulative_csv", o.cumulativeCsvPath,
                 "append the result rows to this CSV file (header once)");
  app.add_option("-J,--output_file", o.outputFile,
                 "write nccl-tests' JSON document to this .json file (an existing file is "
                 "kept: FILE.0, FILE.1, ... are tried)");
  app.add_option("--csv", o.csvPath, "also write the result rows to this CSV file");
  app.add_flag("--version", o.showVersion, "print Prism's and the NCCL API's versions");
  for (auto [flag, target, what] : {std::tuple{"-y,--stream_null", &o.streamNull, "0/1"},
                                    std::tuple{"-x,--cta_policy", &o.ctaPolicy, "0/1/2"},
                                    std::tuple{"-D,--device_implementation", &o.deviceImpl, "N"},
                                    std::tuple{"-V,--device_cta_count", &o.deviceCtaCount, "N"},
                                    std::tuple{"-I,--per_iter_timing", &o.perIterTiming, "0/1"},
                                    std::tuple{"-K,--per_iter_skip", &o.perIterSkip, "N"}}) {
    app.add_option(flag, *target,
                   std::string(what) +
                       ", accepted for nccl-tests command lines; no effect on "
                       "Prism (the header says so)");
  }
  app.add_option("--mem", memText,
                 "buffers: host (malloc), device (cudaMalloc on device rank % count), "
                 "ncclmem (ncclMemAlloc) or shm (a memfd mapped shared; with -R 1 the peers "
                 "map it); default host");
  app.add_option("-R,--local_register", o.registration,
                 "register the buffers: 1 with ncclCommRegister, 2 with "
                 "ncclCommWindowRegister (symmetric); default 0: no registration")
      ->check(CLI::Range(0, 2));
  app.add_option("-G,--cudagraph", o.graphLaunches,
                 "capture each size's iterations in a CUDA graph and time this many launches "
                 "of it (needs --mem device); default 0: no graph");
  app.add_option("--json", o.jsonPath, "also write the results to this JSON file");
  app.add_option("--compare", o.compare,
                 "mpi: afterwards run Open MPI's collective on the same sizes, iterations and "
                 "busbw formula (mpirun, float32 sum) and print the ratio per size")
      ->check(CLI::IsMember({"mpi"}));
  app.add_option("--calibrate", o.calibratePath,
                 "measure the cost model's constants (ring allreduce and allgather) on these "
                 "ranks and write them as a PRISM_TUNING_FILE profile to this file");
  app.add_option("--link-gbit", o.linkGbit,
                 "with --calibrate across hosts: the network link rate in Gbit/s, to derive "
                 "network_efficiency; default: keep the built-in value");
  app.add_flag("--predict", o.predict,
               "add the cost model's predicted time (ncclGroupSimulateEnd) and measured / "
               "predicted to every row");
  app.add_option("--simulate", o.simulatePath,
                 "run nothing: predict the sweep with the cost model on the cluster this fabric "
                 "file (Prism JSON or NCCL XML) describes, however large, and print the chosen "
                 "algorithm and every candidate's time per size");
  app.add_option("--ranks-per-host", o.ranksPerHost,
                 "with --simulate: ranks on each host of the file; default one per GPU (or 1)");
  app.add_option("--plot", o.plotPath,
                 "also draw busbw against message size (measured, or per algorithm with "
                 "--simulate) as an SVG chart in this file");
  app.add_option("--bind-to", o.bindTo,
                 "bind each rank to a core, its NUMA node's cores, or not at all (as mpirun); "
                 "default core when the ranks fit the cores, else none")
      ->check(CLI::IsMember({"core", "numa", "none"}));
  app.add_option("--map-by", o.mapBy,
                 "lay ranks over cores in order, or round robin over NUMA nodes; default core")
      ->check(CLI::IsMember({"core", "numa"}));
  app.add_flag("--print-config", o.printConfig,
               "print the PRISM_* and NCCL_* settings (and exit without a collective)");

  std::vector<std::string> translated = translateArgs(args);
  std::vector<char*> argv;
  std::string programArg = name;
  argv.push_back(programArg.data());
  for (std::string& arg : translated) argv.push_back(arg.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return ParseOutcome{std::nullopt, app.exit(e, out, err)};
  }

  ParseOutcome failed{std::nullopt, 2};
  if (!collective.empty()) {
    o.collective = parseCollective(collective);
    if (!o.collective) {
      err << "prism-bench: unknown collective '" << collective << "'; expected one of "
          << collectiveNameList() << "\n";
      return failed;
    }
  }
  if (!convertSize(minText, "-b", o.minBytes, err) ||
      !convertSize(maxText, "-e", o.maxBytes, err) ||
      !convertSize(stepText, "-i", o.stepBytes, err)) {
    return failed;
  }
  // A lone -b above the default maximum (or a lone -e below the default minimum) moves
  // the other end with it, so "-b 1G" measures one size instead of failing.
  if (!minText.empty() && maxText.empty() && o.maxBytes < o.minBytes) o.maxBytes = o.minBytes;
  if (!maxText.empty() && minText.empty() && o.minBytes > o.maxBytes) o.minBytes = o.maxBytes;
  auto ops = parseBenchOpList(opText);
  if (!ops) {
    err << "prism-bench: unknown op '" << opText << "'; expected sum, prod, min, max, avg, "
        << "mulsum or all\n";
    return failed;
  }
  o.ops = *ops;
  auto types = parseDataTypeList(typeText);
  if (!types) {
    err << "prism-bench: unknown datatype '" << typeText << "'\n";
    return failed;
  }
  o.types = *types;
  if (rootText == "all") {
    o.root = -1;
  } else if (auto root = parseInt(rootText)) {
    o.root = *root;
  } else {
    err << "prism-bench: root '" << rootText << "' is not a rank or 'all'\n";
    return failed;
  }
  // nccl-tests' -u is --unalign N; an argument that is no integer is a CSV file instead.
  if (!unalignText.empty()) {
    if (auto unalign = parseInt(unalignText)) {
      o.unalign = *unalign;
    } else {
      o.cumulativeCsvPath = unalignText;
    }
  }
  auto mem = parseMemKind(memText);
  if (!mem) {
    err << "prism-bench: unknown memory kind '" << memText << "'; expected host, device, "
        << "ncclmem or shm\n";
    return failed;
  }
  o.mem = *mem;
  o.check = o.checkIters > 0;
  o.blocking = o.blockingMode != 0;
  o.average = static_cast<Average>(average);
  o.parallelInit = parallelInit != 0;
  o.reportCpuTime = cpuTime != 0;
  o.reportTimestamps = timestamps != 0;
  o.memoryReport = memoryReport != 0;
  if (!validate(o, err)) return failed;
  if (!o.compare.empty()) {
    const std::string why = compareUnsupported(o);
    if (!why.empty()) {
      err << "prism-bench: --compare " << o.compare << ": " << why << "\n";
      return failed;
    }
  }
  return ParseOutcome{o, 0};
}

std::vector<size_t> sizeSweep(const Options& options) {
  std::vector<size_t> sizes;
  size_t size = options.minBytes;
  while (size <= options.maxBytes) {
    sizes.push_back(size);
    size_t next;
    if (options.stepFactor > 1) {
      if (size > kMaxSize / options.stepFactor) break;
      next = size * options.stepFactor;
    } else {
      if (options.stepBytes == 0 || size > kMaxSize - options.stepBytes) break;
      next = size + options.stepBytes;
    }
    size = next;
  }
  return sizes;
}

std::vector<int> rootSweep(const Options& options, Collective collective) {
  if (!usesRoot(collective)) return {-1};
  if (options.root >= 0) return {options.root};
  std::vector<int> roots;
  for (int r = 0; r < options.totalRanks(); ++r) roots.push_back(r);
  return roots;
}

}  // namespace prism::bench
