// prism-bench run the way nccl-tests' binaries are run, through the real binary: a command
// line from nccl-tests' README through an all_reduce_perf link, the rest of nccl-tests'
// flags, the -J document in nccl-tests' schema, the CSV files and --version.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "nccl.h"
#include "tests/harness/shell.h"

namespace {

using prism::test::ShellOutcome;

// build/perf/prism-bench: given by CMake, or found from build/tests/<this test>.
std::string benchBinary() {
#ifdef PRISM_BENCH_BIN
  return PRISM_BENCH_BIN;
#else
  std::string self(4096, '\0');
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  self.resize(n > 0 ? static_cast<size_t>(n) : 0);
  const std::string tests = self.substr(0, self.rfind('/'));
  return tests.substr(0, tests.rfind('/')) + "/perf/prism-bench";
#endif
}

// The folder of prism-bench and its nccl-tests-named links.
std::string perfDir() {
  const std::string bin = benchBinary();
  return bin.substr(0, bin.rfind('/'));
}

// Runs `program` (a file in perfDir) with `args` over loopback, with -T's variable unset.
ShellOutcome run(const std::string& program, const std::string& args, const std::string& env = "") {
  return prism::test::runShell("env -u PRISM_TIMEOUT_S PRISM_SOCKET_IFNAME==lo " + env + " " +
                                   perfDir() + "/" + program + " " + args,
                               120);
}

std::string tempPath(const std::string& name) {
  return ::testing::TempDir() + "prism_flags_" + std::to_string(getpid()) + "_" + name;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The result rows of a run: the lines that do not start with '#'.
std::vector<std::string> rows(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == ' ') lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> keys(const nlohmann::ordered_json& object) {
  std::vector<std::string> names;
  for (const auto& item : object.items()) names.push_back(item.key());
  return names;
}

// The small sweep most runs use: 8 B to 64 B, 2 timed and 1 warm-up iteration.
const std::string kSmall = " -b 8 -e 64 -f 2 -n 2 -w 1";

class BenchFlags : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(benchBinary().c_str(), X_OK), 0)
        << benchBinary() << " is missing: build the prism-bench target first";
  }
};

// nccl-tests' README: `./build/all_reduce_perf -b 8 -e 128M -f 2 -g 8`, here up to 128K
// and with -g 1 and -g 4 (one rank per "GPU"), unchanged otherwise.
TEST_F(BenchFlags, ReadmeCommandLineRunsThroughTheAlias) {
  ShellOutcome r = run("all_reduce_perf", "-b 8 -e 128K -f 2 -g 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("# nThread 1 nGpus 1 minBytes 8 maxBytes 131072 step: 2(factor) "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("# Out of bounds values : 0 OK"), std::string::npos) << r.output;
  EXPECT_EQ(rows(r.output).size(), 15u) << r.output;  // 8 B ... 128 KiB

  r = run("all_reduce_perf", "-b 8 -e 1K -f 2 -g 4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("# nThread 1 nGpus 4 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ranks: 4 = 1 process x 1 thread x 4 GPUs per thread"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("#  Rank  3 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("# Out of bounds values : 0 OK"), std::string::npos) << r.output;
}

TEST_F(BenchFlags, EveryAliasMeasuresItsCollective) {
  for (const char* alias :
       {"all_reduce_perf", "all_gather_perf", "broadcast_perf", "reduce_scatter_perf",
        "reduce_perf", "alltoall_perf", "gather_perf", "scatter_perf", "sendrecv_perf"}) {
    char target[256] = {};
    ASSERT_GT(readlink((perfDir() + "/" + alias).c_str(), target, sizeof(target) - 1), 0) << alias;
    EXPECT_STREQ(target, "prism-bench");
    ShellOutcome r = run(alias, "-b 64 -e 64 -n 1 -w 0 -g 2");
    EXPECT_EQ(r.status, 0) << alias << "\n" << r.output;
    EXPECT_NE(r.output.find("# Out of bounds values : 0 OK"), std::string::npos) << r.output;
  }
  // Under an alias the name is the collective: a collective argument is a usage error.
  ShellOutcome extra = run("all_reduce_perf", "allgather -b 8 -e 8");
  EXPECT_NE(extra.status, 0);
  EXPECT_NE(extra.output.find("not expected: allgather"), std::string::npos) << extra.output;
  for (const char* alias : {"hypercube_perf", "alltoallv_perf"}) {
    ShellOutcome r = run(alias, kSmall);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("has no prism-bench counterpart"), std::string::npos) << r.output;
  }
}

// Every remaining nccl-tests flag at once, short forms: the header reports each.
TEST_F(BenchFlags, AcceptsAndReportsEveryNcclTestsFlag) {
  ShellOutcome r = run("prism-bench", "allreduce" + kSmall +
                                          " -t 1 -g 2 -m 3 -p 1 -C 1 -T 30 -M 1 -u 1 -N 2 -S 1 "
                                          "-c 2 -z 1 -a 2 -R 0 -y 1 -x 0 -D 1 -V 8 -I 1 -K 1");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* line :
       {"# nThread 1 nGpus 2 minBytes 8 maxBytes 64 step: 2(factor) warmup iters: 1 iters: 2 "
        "agg iters: 3 validation: 2 graph: 0 unalign: 1\n",
        "# Blocking Enabled: -z 1;",
        "# Parallel Init Enabled: ", "# GPUs per thread: -g 2 runs 2 thread ranks per process",
        "# Timeout: 30 s without progress fails a call (PRISM_TIMEOUT_S=30)\n",
        "# Accepted, no effect on Prism: -y 1 (stream_null)\n",
        "# Accepted, no effect on Prism: -x 0 (cta_policy)\n",
        "# Accepted, no effect on Prism: -D 1 (device_implementation)\n",
        "# Accepted, no effect on Prism: -V 8 (device_cta_count)\n",
        "# Accepted, no effect on Prism: -I 1 (per_iter_timing)\n",
        "# Accepted, no effect on Prism: -K 1 (per_iter_skip)\n", " cputime ", "timestamp\n",
        "# Out of bounds values : 0 OK", "# Host memory usage    : Initialization "}) {
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  }
  EXPECT_EQ(rows(r.output).size(), 8u) << r.output;  // 4 sizes, -N 2 cycles

  // Long forms, and -u FILE as a cumulative CSV.
  const std::string csv = tempPath("long.csv");
  r = run("prism-bench", "allgather" + kSmall +
                             " --ngpus 2 --agg_iters 2 --parallel_init 0 --report_cputime 0 "
                             "--timeout 5 --memory_report 1 --unalign 3 --run_cycles 1 "
                             "--report_timestamps 0 --check 1 --blocking 0 -u " +
                             csv);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("nGpus 2 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("agg iters: 2 validation: 1 graph: 0 unalign: 3\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("# Host memory usage"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Parallel Init"), std::string::npos) << r.output;
  EXPECT_NE(readFile(csv).find("start_time,collective,"), std::string::npos);
  EXPECT_EQ(run("prism-bench", "allreduce --memory 1 --version").status, 0);

  // A PRISM_TIMEOUT_S of the user's own wins over -T, and the header says so.
  r = run("prism-bench", "allreduce" + kSmall + " -T 30", "PRISM_TIMEOUT_S=77");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("# Timeout: -T 30 not applied: PRISM_TIMEOUT_S=77 is set"),
            std::string::npos)
      << r.output;
}

TEST_F(BenchFlags, RejectsValuesNcclTestsCannotMean) {
  for (const char* bad : {"-g 0", "-m 0", "-T -1", "-N -1", "--unalign -1", "-u -2", "-z 4", "-p 2",
                          "-C 2", "-M 2", "-c -1", "-S 3"}) {
    ShellOutcome r = run("prism-bench", std::string("allreduce -b 8 -e 8 ") + bad);
    // A usage error: 2, or CLI11's code for a value outside a flag's range.
    EXPECT_TRUE(r.status == 2 || r.status == 105) << bad << "\n" << r.output;
    EXPECT_EQ(r.output.find("Out of bounds"), std::string::npos) << bad;
  }
}

// -J writes nccl-tests' document (its src/util.cu): the same keys, in the same order.
TEST_F(BenchFlags, OutputFileHasNcclTestsSchema) {
  const std::string path = tempPath("results.json");
  ShellOutcome r = run("all_gather_perf", "-b 1K -e 4K -f 2 -n 2 -w 1 -g 2 -J " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("# Writing JSON output to " + path + "\n"), std::string::npos);
  const auto j = nlohmann::ordered_json::parse(readFile(path));
  EXPECT_EQ(keys(j), (std::vector<std::string>{"version", "start_time", "args", "env",
                                               "nccl_version", "config", "results", "out_of_bounds",
                                               "average_bus_bandwidth", "errors", "end_time"}));
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["start_time"].get<std::string>().size(), 19u);  // "%Y-%m-%d %H:%M:%S"
  EXPECT_EQ(j["args"].size(), 15u);                           // argv[0] and 14 arguments
  EXPECT_NE(j["args"][0].get<std::string>().find("all_gather_perf"), std::string::npos);
  EXPECT_EQ(j["nccl_version"], NCCL_VERSION_CODE);
  EXPECT_FALSE(j["env"].empty());

  const auto& config = j["config"];
  EXPECT_EQ(keys(config), (std::vector<std::string>{
                              "nthreads", "ngpus", "minimum_bytes", "maximum_bytes", "step_factor",
                              "warmup_iters", "iterations", "aggregated_iterations", "validation",
                              "graph", "blocking_collectives", "per_iter_timing", "per_iter_skip",
                              "parallel_init", "devices"}));
  EXPECT_EQ(config["ngpus"], 2);
  EXPECT_EQ(config["minimum_bytes"], 1024);
  EXPECT_EQ(config["blocking_collectives"], "false");  // nccl-tests writes booleans as text
  ASSERT_EQ(config["devices"].size(), 2u);
  EXPECT_EQ(keys(config["devices"][1]),
            (std::vector<std::string>{"rank", "group", "pid", "hostname", "device", "device_hex",
                                      "device_info"}));
  EXPECT_EQ(config["devices"][1]["rank"], 1);
  EXPECT_EQ(config["devices"][1]["device_hex"], "host");

  ASSERT_EQ(j["results"].size(), 3u);
  const auto& first = j["results"][0];
  EXPECT_EQ(keys(first),
            (std::vector<std::string>{"size", "count", "type", "redop", "root", "out_of_place",
                                      "in_place", "actual_iterations", "experiment_name"}));
  EXPECT_EQ(first["size"], 1024);
  EXPECT_EQ(first["count"], 128);  // per rank: 1 KiB of float over 2 ranks
  EXPECT_EQ(first["type"], "float");
  EXPECT_EQ(first["redop"], "none");
  EXPECT_EQ(first["root"], "    -1");  // "%6i", as nccl-tests prints it
  EXPECT_EQ(first["actual_iterations"], 2);
  EXPECT_EQ(keys(first["out_of_place"]),
            (std::vector<std::string>{"time", "alg_bw", "bus_bw", "nwrong"}));
  EXPECT_GT(first["in_place"]["time"].get<double>(), 0);
  EXPECT_EQ(first["in_place"]["nwrong"], 0.0);
  EXPECT_EQ(j["out_of_bounds"], (nlohmann::ordered_json{{"count", 0}, {"okay", "true"}}));
  EXPECT_EQ(keys(j["average_bus_bandwidth"]), (std::vector<std::string>{"bandwidth", "okay"}));
  EXPECT_EQ(j["average_bus_bandwidth"]["okay"], "unchecked");

  // As nccl-tests: an existing file is kept and PATH.0 is written instead. -C renames
  // "time", and -c 0 leaves "nwrong" null.
  r = run("all_gather_perf", "-b 1K -e 1K -n 1 -w 0 -C 1 -c 0 -J " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("# Writing JSON output to " + path + ".0\n"), std::string::npos);
  EXPECT_EQ(nlohmann::ordered_json::parse(readFile(path))["results"].size(), 3u);
  const auto second = nlohmann::ordered_json::parse(readFile(path + ".0"));
  EXPECT_EQ(keys(second["results"][0]["out_of_place"]),
            (std::vector<std::string>{"cpu_time", "alg_bw", "bus_bw", "nwrong"}));
  EXPECT_TRUE(second["results"][0]["in_place"]["nwrong"].is_null());
  EXPECT_EQ(second["config"]["validation"], 0);
  EXPECT_EQ(second["config"]["step_bytes"], 1 << 20);

  // Only .json is written, as nccl-tests infers the type from the suffix; said, not silent.
  r = run("all_gather_perf", "-b 1K -e 1K -n 1 -w 0 -J " + tempPath("results.txt"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("only .json is written"), std::string::npos) << r.output;
}

TEST_F(BenchFlags, CsvAndCumulativeCsv) {
  const std::string csv = tempPath("rows.csv"), cumulative = tempPath("all.csv");
  for (int i = 0; i < 2; ++i) {
    ShellOutcome r = run("reduce_perf", "-b 8 -e 16 -f 2 -n 1 -w 0 -g 2 -c 0 --csv " + csv +
                                            " --cumulative_csv " + cumulative);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  const std::string header =
      "start_time,collective,nranks,size,count,type,redop,root,oop_time_us,oop_algbw_gbps,"
      "oop_busbw_gbps,oop_wrong,ip_time_us,ip_algbw_gbps,ip_busbw_gbps,ip_wrong\n";
  const std::string rowsText = readFile(csv);
  ASSERT_EQ(rowsText.rfind(header, 0), 0u) << rowsText;
  std::vector<std::string> lines;
  std::istringstream in(rowsText.substr(header.size()));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u) << rowsText;  // overwritten: the second run's two sizes
  EXPECT_NE(lines[0].find(",reduce,2,8,2,float,sum,0,"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].back(), ',');  // -c 0: the in-place #wrong is empty
  // The cumulative file has the header once and both runs' rows.
  const std::string all = readFile(cumulative);
  EXPECT_EQ(all.rfind(header, 0), 0u);
  EXPECT_EQ(all.find(header, 1), std::string::npos);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 5);
}

TEST_F(BenchFlags, VersionNeedsNoCollective) {
  const std::string api = std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR) + "." +
                          std::to_string(NCCL_PATCH);
  ShellOutcome r = run("prism-bench", "--version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("prism-bench (Prism ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("NCCL API " + api + " (" + std::to_string(NCCL_VERSION_CODE) + ")\n"),
            std::string::npos)
      << r.output;
  r = run("all_reduce_perf", "--version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("all_reduce_perf (Prism ", 0), 0u) << r.output;
}

}  // namespace
