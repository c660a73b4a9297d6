// Unit tests of prism-bench's pure pieces: argument parsing, size sweeps, per-collective
// sizing, element encoding, reference values and report formatting.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "perf/bench/calibrate.h"
#include "perf/bench/collectives.h"
#include "perf/bench/compare.h"
#include "perf/bench/element_codec.h"
#include "perf/bench/json_report.h"
#include "perf/bench/names.h"
#include "perf/bench/options.h"
#include "perf/bench/plot.h"
#include "perf/bench/program_aliases.h"
#include "perf/bench/reference.h"
#include "perf/bench/report.h"
#include "perf/bench/thread_ranks.h"

namespace prism::bench {
namespace {

ParseOutcome parse(std::vector<std::string> args, std::string* errors = nullptr) {
  std::ostringstream out, err;
  ParseOutcome outcome = parseOptions(args, out, err);
  if (errors != nullptr) *errors = err.str();
  return outcome;
}

TEST(BenchSize, ParsesSuffixesAsPowersOf1024) {
  EXPECT_EQ(parseSize("8"), 8u);
  EXPECT_EQ(parseSize("64K"), 64u << 10);
  EXPECT_EQ(parseSize("32M"), 32u << 20);
  EXPECT_EQ(parseSize("32m"), 32u << 20);
  EXPECT_EQ(parseSize("1G"), size_t{1} << 30);
  EXPECT_EQ(parseSize("2GB"), size_t{2} << 30);
  EXPECT_EQ(parseSize("0"), 0u);
}

TEST(BenchSize, RejectsMalformedAndOverflowingSizes) {
  for (const char* bad :
       {"", "M", "-8", "8X", "8KK", "1.5M", "99999999999999999999", "17179869184G"}) {
    EXPECT_FALSE(parseSize(bad).has_value()) << bad;
  }
}

TEST(BenchArgs, TranslatesSingleDashNp) {
  std::vector<std::string> in{"allreduce", "-np", "4", "-np=2", "-n", "5"};
  std::vector<std::string> want{"allreduce", "--nranks", "4", "--nranks=2", "-n", "5"};
  EXPECT_EQ(translateArgs(in), want);
}

TEST(BenchArgs, DefaultsMatchNcclTests) {
  ParseOutcome p = parse({"allreduce"});
  ASSERT_TRUE(p.options);
  const Options& o = *p.options;
  EXPECT_EQ(o.collective, Collective::AllReduce);
  EXPECT_EQ(o.minBytes, 32u << 20);
  EXPECT_EQ(o.maxBytes, 32u << 20);
  EXPECT_EQ(o.stepBytes, 1u << 20);
  EXPECT_EQ(o.stepFactor, 1u);
  EXPECT_EQ(o.iters, 20);
  EXPECT_EQ(o.warmupIters, 5);
  EXPECT_TRUE(o.check);
  EXPECT_EQ(o.ops, std::vector<BenchOp>{BenchOp::Sum});
  EXPECT_EQ(o.types, std::vector<ncclDataType_t>{ncclFloat32});
  EXPECT_EQ(o.root, 0);
  EXPECT_FALSE(o.blocking);
  EXPECT_EQ(o.average, Average::Mean);
  EXPECT_EQ(o.nranks, 1);
  EXPECT_EQ(o.nthreads, 1);
  EXPECT_EQ(o.mem, MemKind::Host);
  EXPECT_EQ(o.graphLaunches, 0);
  EXPECT_EQ(o.registration, 0);
  EXPECT_FALSE(o.printConfig);
}

TEST(BenchArgs, ShortFlags) {
  ParseOutcome p = parse({"reduce", "-b", "8",  "-e", "64M", "-f",  "4",  "-n",       "7",
                          "-w",     "2",  "-c", "0",  "-o",  "max", "-d", "bfloat16", "-r",
                          "3",      "-z", "1",  "-a", "3",   "-np", "4"});
  ASSERT_TRUE(p.options);
  const Options& o = *p.options;
  EXPECT_EQ(o.collective, Collective::Reduce);
  EXPECT_EQ(o.minBytes, 8u);
  EXPECT_EQ(o.maxBytes, 64u << 20);
  EXPECT_EQ(o.stepFactor, 4u);
  EXPECT_EQ(o.iters, 7);
  EXPECT_EQ(o.warmupIters, 2);
  EXPECT_FALSE(o.check);
  EXPECT_EQ(o.ops, std::vector<BenchOp>{BenchOp::Max});
  EXPECT_EQ(o.types, std::vector<ncclDataType_t>{ncclBfloat16});
  EXPECT_EQ(o.root, 3);
  EXPECT_TRUE(o.blocking);
  EXPECT_EQ(o.average, Average::Max);
  EXPECT_EQ(o.nranks, 4);
}

TEST(BenchArgs, LongFlags) {
  ParseOutcome p = parse({"all_gather_perf",
                          "--minbytes",
                          "1K",
                          "--maxbytes=1M",
                          "--stepbytes",
                          "4K",
                          "--iters",
                          "3",
                          "--warmup_iters",
                          "0",
                          "--check",
                          "1",
                          "--op",
                          "all",
                          "--datatype",
                          "float16",
                          "--root",
                          "all",
                          "--blocking",
                          "0",
                          "--average",
                          "0",
                          "--nranks",
                          "3",
                          "--json",
                          "/tmp/x.json"});
  ASSERT_TRUE(p.options);
  const Options& o = *p.options;
  EXPECT_EQ(o.collective, Collective::AllGather);
  EXPECT_EQ(o.minBytes, 1024u);
  EXPECT_EQ(o.maxBytes, 1u << 20);
  EXPECT_EQ(o.stepBytes, 4096u);
  EXPECT_EQ(o.warmupIters, 0);
  EXPECT_EQ(o.ops.size(), 6u);
  EXPECT_EQ(o.types, std::vector<ncclDataType_t>{ncclFloat16});
  EXPECT_EQ(o.root, -1);
  EXPECT_EQ(o.average, Average::Rank0);
  EXPECT_EQ(o.nranks, 3);
  EXPECT_EQ(o.jsonPath, "/tmp/x.json");
}

TEST(BenchArgs, MemoryThreadsAndGraphs) {
  ParseOutcome p =
      parse({"broadcast", "-np", "2", "-t", "3", "--mem", "device", "-G", "10", "-r", "5"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->nranks, 2);
  EXPECT_EQ(p.options->nthreads, 3);
  EXPECT_EQ(p.options->totalRanks(), 6);
  EXPECT_EQ(p.options->mem, MemKind::Device);
  EXPECT_EQ(p.options->graphLaunches, 10);
  EXPECT_EQ(p.options->root, 5);  // roots range over all ranks, threads included

  p = parse({"broadcast", "--nranks=2", "--nthreads=2", "--mem=NcclMem", "-r", "all"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->mem, MemKind::NcclMem);
  EXPECT_EQ(rootSweep(*p.options, Collective::Broadcast), (std::vector<int>{0, 1, 2, 3}));
  p = parse({"allreduce", "--mem", "device", "--cudagraph", "0"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->graphLaunches, 0);

  for (MemKind kind : {MemKind::Host, MemKind::Device, MemKind::NcclMem, MemKind::Shm}) {
    EXPECT_EQ(parseMemKind(memKindName(kind)), kind) << memKindName(kind);
  }
  EXPECT_FALSE(parseMemKind("gpu"));
}

// nccl-tests' -R: 1 ncclCommRegister, 2 symmetric windows; shm buffers are what a
// registration makes mappable by the peers.
TEST(BenchArgs, RegistrationAndSharedMemory) {
  ParseOutcome p = parse({"allgather", "-np", "2", "--mem", "shm", "-R", "1"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->mem, MemKind::Shm);
  EXPECT_EQ(p.options->registration, 1);
  p = parse({"allreduce", "--local_register=2"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->registration, 2);
  EXPECT_EQ(p.options->mem, MemKind::Host);
}

TEST(BenchArgs, GraphsNeedDeviceMemory) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"allreduce", "-G", "5"},
        std::vector<std::string>{"allreduce", "--mem", "host", "--cudagraph", "1"},
        std::vector<std::string>{"allreduce", "--mem", "ncclmem", "-G", "1"}}) {
    std::string errors;
    ParseOutcome p = parse(args, &errors);
    EXPECT_FALSE(p.options) << ::testing::PrintToString(args);
    EXPECT_EQ(p.exitCode, 2);
    EXPECT_NE(errors.find("needs --mem device"), std::string::npos) << errors;
  }
}

TEST(BenchArgs, SimulateAndPlot) {
  ParseOutcome p = parse(
      {"allgather", "--simulate", "fabric.json", "--ranks-per-host", "4", "--plot", "out.svg"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->simulatePath, "fabric.json");
  EXPECT_EQ(p.options->ranksPerHost, 4);
  EXPECT_EQ(p.options->plotPath, "out.svg");
  struct Bad {
    std::vector<std::string> args;
    const char* says;
  };
  for (const Bad& bad :
       {Bad{{"allreduce", "--simulate", "f.json", "-np", "2"}, "runs nothing"},
        Bad{{"allreduce", "--simulate", "f.json", "--predict"}, "runs nothing"},
        Bad{{"allreduce", "--simulate", "f.json", "--mem", "ncclmem"}, "runs nothing"},
        Bad{{"allreduce", "--ranks-per-host", "2"}, "needs --simulate"},
        Bad{{"allreduce", "--simulate", "f.json", "--ranks-per-host", "-1"},
            "must not be negative"},
        Bad{{"allreduce", "--plot", "chart.png"}, "name the file *.svg"}}) {
    std::string errors;
    ParseOutcome q = parse(bad.args, &errors);
    EXPECT_FALSE(q.options) << ::testing::PrintToString(bad.args);
    EXPECT_EQ(q.exitCode, 2);
    EXPECT_NE(errors.find(bad.says), std::string::npos) << errors;
  }
}

TEST(BenchPlot, RendersSeriesLegendAndEscapes) {
  PlotSpec plot;
  plot.title = "a <b> & c";
  plot.series.push_back({"ring", {{1024, 1.0}, {1 << 20, 4.0}}, false});
  plot.series.push_back({"empty", {}, false});
  plot.series.push_back({"chosen", {{1024, 2.0}, {1 << 20, 5.0}}, true});
  const std::string svg = renderPlot(plot);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("a &lt;b&gt; &amp; c"), std::string::npos);
  size_t lines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1))
    ++lines;
  EXPECT_EQ(lines, 2u);  // the empty series is left out
  EXPECT_EQ(svg.find(">empty<"), std::string::npos);
  EXPECT_NE(svg.find(">1K<"), std::string::npos);  // the size axis starts at 1 KiB
  EXPECT_NE(svg.find(">1M<"), std::string::npos);
  std::ostringstream err;
  EXPECT_FALSE(writePlot("chart.png", plot, err));
  EXPECT_NE(err.str().find("only SVG"), std::string::npos);
}

// nccl-tests' binary names and flags; tests/bench_flags_test.cc runs them end to end.
TEST(BenchArgs, NcclTestsNamesAndFlags) {
  EXPECT_EQ(findProgramAlias("/x/reduce_scatter_perf")->collective, Collective::ReduceScatter);
  EXPECT_EQ(findProgramAlias("all_reduce_perf_mpi")->collective, Collective::AllReduce);
  EXPECT_EQ(findProgramAlias("prism-bench"), nullptr);
  EXPECT_FALSE(findProgramAlias("hypercube_perf")->collective);
  std::ostringstream out, err;
  ParseOutcome p = parseOptions({"-g", "2", "-t", "3", "-m", "4", "-u", "5", "-c", "3"}, out, err,
                                "build/perf/all_gather_perf");
  ASSERT_TRUE(p.options) << err.str();
  EXPECT_EQ(p.options->collective, Collective::AllGather);
  EXPECT_EQ(p.options->totalRanks(), 6);
  EXPECT_EQ(p.options->aggIters, 4);
  EXPECT_EQ(p.options->unalign, 5);
  EXPECT_EQ(p.options->checkIters, 3);
  p = parse({"allreduce", "-u", "runs.csv", "-M", "1", "-J", "r.json", "-T", "9", "-C", "1"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->cumulativeCsvPath, "runs.csv");
  EXPECT_TRUE(p.options->memoryReport && p.options->reportCpuTime);
  EXPECT_EQ(p.options->outputFile, "r.json");
  EXPECT_EQ(p.options->timeoutS, 9);
  EXPECT_EQ(parseOptions({"-b", "8"}, out, err, "hypercube_perf").exitCode, 2);
}

TEST(BenchArgs, RepeatedFlagTakesLastValue) {
  ParseOutcome p = parse({"allreduce", "-n", "5", "-np", "4", "-n", "7", "--nranks", "2"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->iters, 7);
  EXPECT_EQ(p.options->nranks, 2);
}

TEST(BenchArgs, NegativeRootMeansAll) {
  ParseOutcome p = parse({"broadcast", "-r", "-1", "-np", "2"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->root, -1);
  EXPECT_EQ(rootSweep(*p.options, Collective::Broadcast), (std::vector<int>{0, 1}));
  EXPECT_EQ(rootSweep(*p.options, Collective::AllReduce), std::vector<int>{-1});
}

TEST(BenchArgs, LoneMinRaisesMax) {
  ParseOutcome p = parse({"allreduce", "-b", "1G"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->maxBytes, size_t{1} << 30);
  EXPECT_EQ(sizeSweep(*p.options), std::vector<size_t>{size_t{1} << 30});
}

TEST(BenchArgs, PrintConfigNeedsNoCollective) {
  ParseOutcome p = parse({"--print-config"});
  ASSERT_TRUE(p.options);
  EXPECT_TRUE(p.options->printConfig);
  EXPECT_FALSE(p.options->collective);
}

TEST(BenchArgs, HelpExitsZero) {
  ParseOutcome p = parse({"--help"});
  EXPECT_FALSE(p.options);
  EXPECT_EQ(p.exitCode, 0);
}

TEST(BenchArgs, RejectsBadInput) {
  const std::vector<std::vector<std::string>> cases{
      {},                                               // no collective
      {"allsum"},                                       // unknown collective
      {"allreduce", "-d", "float128"},                  // unknown type
      {"allreduce", "-o", "xor"},                       // unknown op
      {"allreduce", "-b", "1M", "-e", "1K"},            // min above max
      {"allreduce", "-b", "lots"},                      // malformed size
      {"allreduce", "-c", "-1"},                        // out of range
      {"allreduce", "-a", "4"},                         // out of range
      {"broadcast", "-r", "2", "-np", "2"},             // root outside the communicator
      {"allreduce", "-np", "0"},                        // no ranks
      {"allreduce", "-n", "0"},                         // no iterations
      {"allreduce", "--bogus"},                         // unknown flag
      {"allreduce", "--mem", "gpu"},                    // unknown memory kind
      {"allreduce", "-t", "0"},                         // no threads
      {"allreduce", "-t", "two"},                       // not a number
      {"allreduce", "-np", "4096", "-t", "2"},          // far too many ranks
      {"allreduce", "--mem", "device", "-G", "-1"},     // negative launches
      {"allreduce", "--mem", "shm", "-R", "3"},         // no such registration
      {"broadcast", "-np", "2", "-t", "2", "-r", "4"},  // root beyond threads
  };
  for (const auto& args : cases) {
    std::string errors;
    ParseOutcome p = parse(args, &errors);
    EXPECT_FALSE(p.options) << ::testing::PrintToString(args);
    EXPECT_NE(p.exitCode, 0) << ::testing::PrintToString(args);
    EXPECT_FALSE(errors.empty()) << ::testing::PrintToString(args);
  }
}

TEST(BenchThreads, RanksNumberedByProcessThenThread) {
  RankContext process;
  process.process = 2;
  process.nthreads = 3;
  process.nranks = 9;
  std::mutex mutex;
  std::set<int> ranks;
  int status = runThreadRanks(process, [&](const RankContext& c) {
    std::lock_guard lock(mutex);
    ranks.insert(c.rank);
    EXPECT_EQ(c.process, 2);
    EXPECT_EQ(c.nranks, 9);
    return 0;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(ranks, (std::set<int>{6, 7, 8}));
}

TEST(BenchThreads, WorstStatusWins) {
  RankContext process;
  process.nthreads = 4;
  std::atomic<int> calls{0};
  int status = runThreadRanks(process, [&](const RankContext& c) {
    ++calls;
    return c.rank == 1 ? 2 : c.rank == 3 ? 1 : 0;
  });
  EXPECT_EQ(status, 2);
  EXPECT_EQ(calls, 4);
}

TEST(BenchSweep, FactorAndStep) {
  Options o;
  o.minBytes = 8;
  o.maxBytes = 64u << 20;
  o.stepFactor = 4;
  std::vector<size_t> sizes = sizeSweep(o);
  ASSERT_EQ(sizes.size(), 12u);
  EXPECT_EQ(sizes.front(), 8u);
  EXPECT_EQ(sizes[1], 32u);
  EXPECT_EQ(sizes.back(), 32u << 20);  // 8 * 4^11; the next step would pass 64M

  o.stepFactor = 1;
  o.minBytes = 1000;
  o.maxBytes = 4000;
  o.stepBytes = 1000;
  EXPECT_EQ(sizeSweep(o), (std::vector<size_t>{1000, 2000, 3000, 4000}));
}

TEST(BenchNames, DataTypes) {
  EXPECT_EQ(parseDataType("float32"), ncclFloat32);
  EXPECT_EQ(parseDataType("ncclFloat16"), ncclFloat16);
  EXPECT_EQ(parseDataType("HALF"), ncclFloat16);
  EXPECT_EQ(parseDataType("bf16"), ncclBfloat16);
  EXPECT_EQ(parseDataType("f8e5m2"), ncclFloat8e5m2);
  EXPECT_EQ(parseDataType("char"), ncclInt8);
  EXPECT_FALSE(parseDataType("float128"));
  auto all = parseDataTypeList("all");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 12u);
  for (int t = 0; t < ncclNumTypes; ++t) {
    auto type = static_cast<ncclDataType_t>(t);
    EXPECT_EQ(parseDataType(dataTypeName(type)), type) << dataTypeName(type);
    EXPECT_GT(dataTypeSize(type), 0u);
  }
  EXPECT_STREQ(dataTypeName(ncclFloat32), "float");
  EXPECT_STREQ(dataTypeName(ncclFloat8e4m3), "f8e4m3");
}

TEST(BenchNames, Ops) {
  EXPECT_EQ(parseBenchOp("ncclProd"), BenchOp::Prod);
  EXPECT_EQ(parseBenchOp("premulsum"), BenchOp::MulSum);
  EXPECT_STREQ(benchOpName(BenchOp::Avg), "avg");
  EXPECT_EQ(builtinRedOp(BenchOp::Min), ncclMin);
  EXPECT_FALSE(parseBenchOp("xor"));
}

TEST(BenchCollectives, NamesRoundTrip) {
  for (int c = 0; c <= static_cast<int>(Collective::SendRecv); ++c) {
    auto coll = static_cast<Collective>(c);
    EXPECT_EQ(parseCollective(cliName(coll)), coll);
  }
  EXPECT_EQ(parseCollective("all_reduce_perf"), Collective::AllReduce);
  EXPECT_EQ(parseCollective("reduce-scatter"), Collective::ReduceScatter);
  EXPECT_FALSE(parseCollective("perf"));
}

TEST(BenchCollectives, BusBandwidthFactors) {
  EXPECT_DOUBLE_EQ(busBandwidthFactor(Collective::AllReduce, 4), 1.5);
  for (Collective c : {Collective::AllGather, Collective::ReduceScatter, Collective::AllToAll,
                       Collective::Gather, Collective::Scatter}) {
    EXPECT_DOUBLE_EQ(busBandwidthFactor(c, 4), 0.75);
  }
  for (Collective c : {Collective::Broadcast, Collective::Reduce, Collective::SendRecv}) {
    EXPECT_DOUBLE_EQ(busBandwidthFactor(c, 4), 1.0);
  }
  EXPECT_DOUBLE_EQ(busBandwidthFactor(Collective::AllReduce, 1), 0.0);
}

TEST(BenchCollectives, LayoutsFollowNcclTests) {
  // 4 ranks, 1 MiB of floats; rank 2.
  const size_t bytes = 1 << 20, ts = 4;
  Layout ar = layoutFor(Collective::AllReduce, bytes, ts, 4, 2);
  EXPECT_EQ(ar.count, bytes / ts);
  EXPECT_EQ(ar.reportedBytes, bytes);

  Layout ag = layoutFor(Collective::AllGather, bytes, ts, 4, 2);
  EXPECT_EQ(ag.count, bytes / ts / 4);
  EXPECT_EQ(ag.recvCount, bytes / ts);
  EXPECT_EQ(ag.sendCount, ag.count);
  EXPECT_EQ(ag.inPlaceSendOffset, 2 * ag.count);
  EXPECT_EQ(ag.reportedBytes, bytes);

  Layout rs = layoutFor(Collective::ReduceScatter, bytes, ts, 4, 2);
  EXPECT_EQ(rs.count, bytes / ts / 4);
  EXPECT_EQ(rs.sendCount, bytes / ts);
  EXPECT_EQ(rs.inPlaceRecvOffset, 2 * rs.count);
  EXPECT_EQ(rs.reportedBytes, bytes);

  Layout a2a = layoutFor(Collective::AllToAll, bytes, ts, 4, 2);
  EXPECT_EQ(a2a.count, bytes / ts / 4);
  EXPECT_EQ(a2a.sendCount, a2a.recvCount);
  EXPECT_EQ(a2a.reportedBytes, bytes);

  // Sizes that do not divide evenly are rounded down; tiny ones become empty.
  Layout odd = layoutFor(Collective::AllGather, 100, 4, 3, 0);
  EXPECT_EQ(odd.count, 8u);
  EXPECT_EQ(odd.reportedBytes, 96u);
  EXPECT_EQ(layoutFor(Collective::AllGather, 8, 4, 4, 0).count, 0u);
}

TEST(BenchCodec, SmallIntegersRoundTripInEveryType) {
  for (int t = 0; t < ncclNumTypes; ++t) {
    auto type = static_cast<ncclDataType_t>(t);
    unsigned char buffer[16] = {};
    for (double v = 0; v <= exactIntegerLimit(type) && v <= 300; ++v) {
      storeElement(type, buffer, 1, v);
      EXPECT_EQ(loadElement(type, buffer, 1), v) << dataTypeName(type);
    }
  }
}

TEST(BenchCodec, KnownEncodings) {
  unsigned char b[2] = {};
  storeElement(ncclFloat16, b, 0, 1.0);
  EXPECT_EQ(b[0] | b[1] << 8, 0x3c00);
  storeElement(ncclBfloat16, b, 0, -2.0);
  EXPECT_EQ(b[0] | b[1] << 8, 0xc000);
  storeElement(ncclFloat8e4m3, b, 0, 448.0);
  EXPECT_EQ(b[0], 0x7e);
  storeElement(ncclFloat8e4m3, b, 0, 1e6);  // saturates: e4m3 has no infinity
  EXPECT_EQ(b[0], 0x7e);
  storeElement(ncclFloat8e5m2, b, 0, 1.0);
  EXPECT_EQ(b[0], 0x3c);
  b[0] = 0x7f;
  EXPECT_TRUE(std::isnan(loadElement(ncclFloat8e4m3, b, 0)));
  storeElement(ncclFloat16, b, 0, 1.0 + 1.0 / 2048);  // a tie rounds to even
  EXPECT_EQ(b[0] | b[1] << 8, 0x3c00);
  storeElement(ncclFloat16, b, 0, std::ldexp(1.0, -24));  // smallest subnormal
  EXPECT_EQ(b[0] | b[1] << 8, 0x0001);
}

// Feeds the reference's own inputs through a naive reduction in the element type and
// checks the reference's expectation matches for every type, op and a few rank counts.
TEST(BenchReference, ReductionsAreExactInTheirType) {
  const std::vector<BenchOp> ops = *parseBenchOpList("all");
  for (int n : {1, 2, 3, 4, 5, 8, 11}) {
    for (int t = 0; t < ncclNumTypes; ++t) {
      auto type = static_cast<ncclDataType_t>(t);
      for (BenchOp op : ops) {
        Reference ref(Collective::AllReduce, type, op, n, 0);
        Layout layout =
            layoutFor(Collective::AllReduce, 64 * dataTypeSize(type), dataTypeSize(type), n, 0);
        unsigned char acc[8 * 64] = {};
        for (size_t i = 0; i < layout.count; ++i) {
          // Accumulate in the element type, rounding after every step as a library would.
          double sum = ref.input(0, i) * (op == BenchOp::MulSum ? ref.scalar(0) : 1);
          storeElement(type, acc, i, sum);
          for (int r = 1; r < n; ++r) {
            double a = loadElement(type, acc, i), v = ref.input(r, i);
            double next = op == BenchOp::Prod     ? a * v
                          : op == BenchOp::Max    ? std::max(a, v)
                          : op == BenchOp::Min    ? std::min(a, v)
                          : op == BenchOp::MulSum ? a + ref.scalar(r) * v
                                                  : a + v;
            storeElement(type, acc, i, next);
          }
          if (op == BenchOp::Avg) {
            storeElement(type, acc, i, loadElement(type, acc, i) / n);
          }
        }
        EXPECT_EQ(ref.countMismatches(acc, layout, 0), 0u)
            << "n=" << n << " type=" << dataTypeName(type) << " op=" << benchOpName(op);
      }
    }
  }
}

TEST(BenchReference, DataMovementExpectations) {
  const int n = 3;
  Layout ag = layoutFor(Collective::AllGather, 3 * 4 * 4, 4, n, 1);
  Reference gather(Collective::AllGather, ncclFloat32, BenchOp::Sum, n, 0);
  EXPECT_EQ(gather.expected(ag, 1, ag.count * 2 + 1), gather.input(2, 1));

  Layout a2a = layoutFor(Collective::AllToAll, 3 * 4 * 4, 4, n, 1);
  Reference alltoall(Collective::AllToAll, ncclFloat32, BenchOp::Sum, n, 0);
  EXPECT_EQ(alltoall.expected(a2a, 1, a2a.count * 2 + 3), alltoall.input(2, a2a.count + 3));

  Layout sr = layoutFor(Collective::SendRecv, 16, 4, n, 0);
  Reference sendrecv(Collective::SendRecv, ncclFloat32, BenchOp::Sum, n, 0);
  EXPECT_EQ(sendrecv.expected(sr, 0, 2), sendrecv.input(2, 2));

  Reference reduce(Collective::Reduce, ncclFloat32, BenchOp::Sum, n, 2);
  EXPECT_EQ(reduce.checkedCount(sr, 0), 0u);
  EXPECT_EQ(reduce.checkedCount(sr, 2), sr.recvCount);
}

TEST(BenchReference, CountsUnwrittenElements) {
  Layout layout = layoutFor(Collective::Broadcast, 8 * 4, 4, 2, 1);
  Reference ref(Collective::Broadcast, ncclFloat32, BenchOp::Sum, 2, 0);
  std::vector<float> recv(layout.recvCount);
  for (size_t i = 0; i < recv.size(); ++i) recv[i] = static_cast<float>(ref.expected(layout, 1, i));
  EXPECT_EQ(ref.countMismatches(recv.data(), layout, 1), 0u);
  recv[3] = NAN;
  recv[5] += 1;
  EXPECT_EQ(ref.countMismatches(recv.data(), layout, 1), 2u);
}

TEST(BenchReport, ColumnHeaderAndRowsAlign) {
  Options o;
  std::string header = formatHeader(o, {{0, 1234, "node"}, {1, 1235, "node"}});
  EXPECT_NE(header.find("# nThread 1 nGpus 1 minBytes 33554432 maxBytes 33554432 step: "
                        "1048576(bytes) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 "
                        "graph: 0 unalign: 0\n#\n# Using devices\n"),
            std::string::npos);
  EXPECT_NE(header.find("Pid   1235 on       node device -1 [host]"), std::string::npos);
  const std::string columns =
      "#       size         count      type   redop    root     time   algbw   busbw #wrong     "
      "time   algbw   busbw #wrong\n";
  EXPECT_NE(header.find(columns), std::string::npos);
  EXPECT_NE(header.find("#                                                              "
                        "out-of-place                       in-place\n"),
            std::string::npos);
  EXPECT_NE(header.find("#        (B)    (elements)                               (us)  (GB/s)  "
                        "(GB/s)            (us)  (GB/s)  (GB/s)\n"),
            std::string::npos);

  ResultRow row{1048576,     262144, "float", "sum", -1, {100.0, 0}, {50.0, std::nullopt},
                std::nullopt};
  std::string text = formatRow(row, Collective::AllReduce, 4);
  EXPECT_EQ(text,
            "     1048576        262144     float     sum      -1   100.00   10.49   15.73      0"
            "    50.00   20.97   31.46    N/A\n");
  EXPECT_EQ(text.size(), columns.size());  // every column ends where its title ends

  row.outOfPlace.timeUs = 581483.3;  // long times drop decimals to keep the width
  row.inPlace.timeUs = 12345.67;
  text = formatRow(row, Collective::AllReduce, 4);
  EXPECT_NE(text.find("   581483 "), std::string::npos) << text;
  EXPECT_NE(text.find(" 12345.7 "), std::string::npos) << text;
  EXPECT_EQ(text.size(), columns.size());
}

TEST(BenchReport, HeaderDescribesMemoryThreadsAndGraphs) {
  Options o;
  EXPECT_EQ(formatHeader(o, {}).find("Memory:"), std::string::npos);  // defaults: as before
  o.nranks = 2;
  o.nthreads = 2;
  o.mem = MemKind::Device;
  o.graphLaunches = 10;
  std::string header = formatHeader(o, {{3, 42, "node", 1, "[0x1b] NVIDIA H100"}});
  EXPECT_NE(header.find("# nThread 2 nGpus 1 "), std::string::npos) << header;
  EXPECT_NE(header.find(" graph: 10 unalign: 0\n"), std::string::npos) << header;
  EXPECT_NE(header.find("# Using devices\n#  Memory: device (cudaMalloc), ranks: 4 = 2 "
                        "processes x 2 threads, CUDA graph: 10 launches\n"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find("#  Rank  3 Group  0 Pid     42 on       node device  1 [0x1b] NVIDIA "
                        "H100\n"),
            std::string::npos)
      << header;
  o.nranks = 1;
  o.mem = MemKind::Host;
  o.graphLaunches = 0;
  EXPECT_NE(formatHeader(o, {}).find("#  Memory: host (malloc), ranks: 2 = 1 process x 2 "
                                     "threads, CUDA graph: off\n"),
            std::string::npos);
  o.nthreads = 1;
  o.mem = MemKind::Shm;
  o.registration = 1;
  EXPECT_NE(formatHeader(o, {}).find("#  Memory: shm (memfd mapped shared), ranks: 1 = 1 process "
                                     "x 1 thread, CUDA graph: off, registered: ncclCommRegister\n"),
            std::string::npos)
      << formatHeader(o, {});
}

TEST(BenchReport, SummaryAndFooter) {
  Report report(Collective::AllGather, 2);
  report.add({1000, 125, "float", "none", -1, {1.0, 0}, {1.0, 3}, std::nullopt});
  report.add({2000, 250, "float", "none", -1, {1.0, 1}, {2.0, 0}, std::nullopt});
  EXPECT_EQ(report.totalWrong(), 4);
  EXPECT_DOUBLE_EQ(report.avgBusBw(), (1.0 + 1.0 + 2.0 + 1.0) * 0.5 / 4);
  EXPECT_EQ(formatFooter(0, 1.5),
            "# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 1.5 \n#\n");
  EXPECT_NE(formatFooter(4, 1.5).find(": 4 FAILED"), std::string::npos);

  nlohmann::json j = reportToJson(report, Options{});
  EXPECT_EQ(j["collective"], "allgather");
  EXPECT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["in_place"]["wrong"], 3);
  EXPECT_EQ(j["wrong"], 4);
  EXPECT_EQ(j["options"]["mem"], "host");
  EXPECT_EQ(j["options"]["nthreads"], 1);
  EXPECT_EQ(j["options"]["cudagraph"], 0);
  Options device;
  device.mem = MemKind::Device;
  device.nthreads = 4;
  device.graphLaunches = 3;
  j = reportToJson(report, device);
  EXPECT_EQ(j["options"]["mem"], "device");
  EXPECT_EQ(j["options"]["nthreads"], 4);
  EXPECT_EQ(j["options"]["cudagraph"], 3);
}

}  // namespace
}  // namespace prism::bench

namespace prism::bench {
namespace {

TEST(BenchCompare, ParsesPeerRowsAndSkipsComments) {
  const std::string text =
      "# mpi_bench allreduce: 2 ranks, float sum\n"
      "#        size        count     type   time(us)    algbw    busbw #wrong\n"
      "            8            2    float       0.45     0.02     0.02      0\n"
      "      1048576       262144    float     300.00     3.50     3.50      1\n"
      "garbage line\n";
  const std::vector<PeerRow> rows = parsePeerRows(text);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].bytes, 8u);
  EXPECT_DOUBLE_EQ(rows[0].timeUs, 0.45);
  EXPECT_EQ(rows[1].bytes, 1048576u);
  EXPECT_DOUBLE_EQ(rows[1].busBw, 3.5);
  EXPECT_EQ(rows[1].wrong, 1);
}

TEST(BenchCompare, RatioIsTimeForSmallAndBusBwForLargeSizes) {
  Report prism(Collective::AllReduce, 2);
  ResultRow small;
  small.bytes = 8;
  small.outOfPlace.timeUs = 0.5;
  prism.add(small);
  ResultRow large;
  large.bytes = 1000000;
  large.outOfPlace.timeUs = 100;  // algbw 10 GB/s, busbw 10 on 2 ranks
  prism.add(large);
  PeerResult peer;
  peer.name = "peer";
  peer.rows = {{8, 1.0, 0.01, 0}, {1000000, 400, 2.5, 0}};
  const std::string table = formatComparison(prism, peer);
  EXPECT_NE(table.find("2.00x"), std::string::npos) << table;  // 1.0 us / 0.5 us
  EXPECT_NE(table.find("4.00x"), std::string::npos) << table;  // 10 / 2.5 GB/s
  EXPECT_NE(table.find("Median ratio: 3.00x"), std::string::npos) << table;
  peer.error = "no MPI";
  EXPECT_NE(formatComparison(prism, peer).find("not compared: no MPI"), std::string::npos);
}

TEST(BenchCompare, ExplainsWhatCannotBeCompared) {
  Options options;
  options.collective = Collective::Gather;
  options.stepFactor = 2;
  EXPECT_FALSE(compareUnsupported(options).empty());
  options.collective = Collective::AllReduce;
  options.types = {ncclBfloat16};
  EXPECT_FALSE(compareUnsupported(options).empty());
}

TEST(BenchCalibrateArgs, CalibrateNeedsNoCollectiveAndOnlyHostMemory) {
  ParseOutcome p = parse({"--calibrate", "/tmp/profile.json", "-np", "2", "--link-gbit", "25"});
  ASSERT_TRUE(p.options);
  EXPECT_FALSE(p.options->collective.has_value());
  EXPECT_EQ(p.options->calibratePath, "/tmp/profile.json");
  EXPECT_EQ(p.options->nranks, 2);
  EXPECT_DOUBLE_EQ(p.options->linkGbit, 25.0);
  EXPECT_FALSE(p.options->predict);

  p = parse({"allreduce", "--calibrate", "f.json", "-t", "2"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->collective, Collective::AllReduce);
  EXPECT_EQ(p.options->nthreads, 2);

  std::string errors;
  EXPECT_FALSE(parse({"allreduce", "--calibrate", "f.json", "--mem", "device"}, &errors).options);
  EXPECT_NE(errors.find("--calibrate measures the host path"), std::string::npos) << errors;
  EXPECT_FALSE(parse({"--calibrate", "f.json", "--link-gbit", "-1"}, &errors).options);
  EXPECT_NE(errors.find("link-gbit"), std::string::npos) << errors;
  // Without --calibrate a collective is still required.
  EXPECT_FALSE(parse({"--predict"}, &errors).options);
}

TEST(BenchCalibrateArgs, PredictFlag) {
  ParseOutcome p = parse({"allgather", "--predict"});
  ASSERT_TRUE(p.options);
  EXPECT_TRUE(p.options->predict);
  EXPECT_TRUE(p.options->calibratePath.empty());
  EXPECT_DOUBLE_EQ(p.options->linkGbit, 0.0);
}

TEST(BenchReport, PredictionColumnsFollowTheNcclTestsOnes) {
  Options o;
  o.predict = true;
  const std::string header = formatHeader(o, {});
  const std::string columns =
      "#       size         count      type   redop    root     time   algbw   busbw #wrong     "
      "time   algbw   busbw #wrong      pred meas/pred\n";
  EXPECT_NE(header.find(columns), std::string::npos) << header;
  EXPECT_NE(header.find("(GB/s)  (GB/s)             (us)     (oop)\n"), std::string::npos)
      << header;

  ResultRow row{1048576, 262144, "float", "sum", -1, {100.0, 0}, {50.0, 0}, 80.0};
  const std::string text = formatRow(row, Collective::AllReduce, 4);
  EXPECT_EQ(text,
            "     1048576        262144     float     sum      -1   100.00   10.49   15.73      0"
            "    50.00   20.97   31.46      0     80.00     1.250\n");
  EXPECT_EQ(text.size(), columns.size());
  EXPECT_DOUBLE_EQ(measuredOverPredicted(100, 80), 1.25);
  EXPECT_DOUBLE_EQ(measuredOverPredicted(100, 0), 0.0);

  Report report(Collective::AllReduce, 4);
  report.add(row);
  row.predictedUs.reset();
  report.add(row);
  const nlohmann::json j = reportToJson(report, o);
  EXPECT_TRUE(j.at("options").at("predict").get<bool>());
  const nlohmann::json& first = j.at("results").at(0);
  EXPECT_DOUBLE_EQ(first.at("predicted_us").get<double>(), 80.0);
  EXPECT_DOUBLE_EQ(first.at("measured_over_predicted").at("out_of_place").get<double>(), 1.25);
  EXPECT_DOUBLE_EQ(first.at("measured_over_predicted").at("in_place").get<double>(), 0.625);
  EXPECT_FALSE(j.at("results").at(1).contains("predicted_us"));
}

}  // namespace
}  // namespace prism::bench

namespace prism::bench {
namespace {

TEST(BenchNames, CommaListsOfTypesAndOperators) {
  const auto types = parseDataTypeList("float,int32,bf16");
  ASSERT_TRUE(types.has_value());
  EXPECT_EQ(*types, (std::vector<ncclDataType_t>{ncclFloat32, ncclInt32, ncclBfloat16}));
  const auto ops = parseBenchOpList("sum,avg");
  ASSERT_TRUE(ops.has_value());
  EXPECT_EQ(*ops, (std::vector<BenchOp>{BenchOp::Sum, BenchOp::Avg}));
  EXPECT_FALSE(parseDataTypeList("float,bogus").has_value());
  EXPECT_FALSE(parseBenchOpList("sum,").has_value());
}

}  // namespace
}  // namespace prism::bench
