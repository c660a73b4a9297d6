#include "perf/bench/runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "perf/bench/collective_call.h"
#include "perf/bench/compare.h"
#include "perf/bench/csv_report.h"
#include "perf/bench/element_codec.h"
#include "perf/bench/json_report.h"
#include "perf/bench/memory_usage.h"
#include "perf/bench/nccl_tests_json.h"
#include "perf/bench/rank_memory.h"
#include "perf/bench/reference.h"
#include "perf/bench/report.h"

namespace prism::bench {
namespace {

// Bytes written over a receive buffer before a check run, so that an element the
// library never wrote cannot pass (it decodes as NaN or as a value no pattern uses).
constexpr int kSentinelByte = 0xff;

// nccl-tests' -u pads the buffers by the largest element size times the offset.
constexpr size_t kLargestElement = 8;

using Clock = std::chrono::steady_clock;

double microsecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

std::string hostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// One (type, operator, root) combination of the sweep.
struct Case {
  ncclDataType_t type;
  BenchOp benchOp;
  ncclRedOp_t op;  // the built-in operator, or this rank's PreMulSum handle
  int root;
};

class RankBench {
 public:
  // The memory comes first: for device memory it selects the rank's device, which the
  // communicator then belongs to.
  RankBench(const Options& options, const RankContext& context)
      : options_(options),
        collective_(*options.collective),
        rank_(context.rank),
        nranks_(context.nranks),
        report_(collective_, nranks_),
        memory_(RankMemory::create(options.mem, context.rank)),
        startTime_(localTimeString()) {
    const int64_t beforeInit = residentBytes();
    check(ncclCommInitRank(&comm_, nranks_, context.id, rank_), "ncclCommInitRank");
    memoryUse_[0] = residentBytes() - beforeInit;
    ranks_ = rankInfos(context);
    if (rank_ == 0) {
      std::fputs(formatHeader(options_, ranks_).c_str(), stdout);
      std::fflush(stdout);
    }
    bufferBytes_ = options_.maxBytes + kLargestElement * static_cast<size_t>(options_.unalign);
    send_ = memory_->allocate(bufferBytes_);
    recv_ = memory_->allocate(bufferBytes_);
    scratch_ = memory_->allocate(sizeof(double));
    registerBuffers();
    if (!memory_->hostAccessible() && options_.check) {
      sendMirror_.resize(bufferBytes_);
      recvMirror_.resize(bufferBytes_);
    }
    // Host buffers become resident only as they are touched, so -M counts what was
    // allocated in host memory: the buffers themselves, or their host mirrors.
    memoryUse_[1] = static_cast<int64_t>(
        memory_->hostAccessible() ? 2 * bufferBytes_ : sendMirror_.size() + recvMirror_.size());
    afterInit_ = beforeInit + memoryUse_[0];
  }

  ~RankBench() {
    if (comm_ == nullptr) return;
    // After a failure the peers may be gone or stuck; abort instead of a collective destroy.
    if (failed_) {
      ncclCommAbort(comm_);
    } else {
      deregisterBuffers();
      ncclCommDestroy(comm_);
    }
  }

  RankBench(const RankBench&) = delete;
  RankBench& operator=(const RankBench&) = delete;

  // Runs the sweep; returns the exit status.
  int run() {
    try {
      for (ncclDataType_t type : options_.types) {
        for (BenchOp benchOp : options_.ops) {
          for (int root : rootSweep(options_, collective_)) runCase(type, benchOp, root);
          if (!usesRedOp(collective_)) break;  // the operator does not apply
        }
      }
      if (options_.memoryReport) measureMemory();
    } catch (const SetupError& e) {
      return fail(e, 2);
    } catch (const BenchError& e) {
      return fail(e, 1);
    }
    if (rank_ != 0) return 0;  // rank 0 reports wrong results and owns the verdict
    std::string footer = formatFooter(report_.totalWrong(), report_.avgBusBw());
    // nccl-tests' memory line follows the footer, closed by a "#" line of its own.
    if (options_.memoryReport)
      footer += formatMemoryUsage(memoryUse_[0], memoryUse_[1], memoryUse_[2]) + "#\n";
    std::fputs(footer.c_str(), stdout);
    std::fflush(stdout);
    bool jsonOk = writeFiles();
    if (!options_.compare.empty()) {
      std::fputs(formatComparison(report_, runMpiPeer(options_)).c_str(), stdout);
      std::fflush(stdout);
    }
    return report_.totalWrong() == 0 && jsonOk ? 0 : 1;
  }

 private:
  int fail(const BenchError& e, int status) {
    failed_ = true;
    std::fprintf(stderr, "prism-bench: rank %d: %s\n", rank_, e.what());
    return status;
  }

  // The files a run writes besides the table: --json, -J, --csv, --cumulative_csv and
  // --plot. False if any of them could not be written.
  bool writeFiles() {
    bool ok = options_.jsonPath.empty() || writeJsonReport(options_.jsonPath, report_, options_);
    if (!options_.outputFile.empty()) {
      NcclTestsRun run;
      run.args = options_.commandLine;
      for (char** variable = environ; *variable != nullptr; ++variable)
        run.env.emplace_back(*variable);
      ncclGetVersion(&run.ncclVersion);
      run.startTime = startTime_;
      run.endTime = localTimeString();
      run.ranks = ranks_;
      const std::string error = ncclGetLastError(comm_);
      if (!error.empty()) run.errors.push_back(error);
      ok = writeJsonDocument(options_.outputFile, ncclTestsJson(report_, options_, run),
                             std::cerr) &&
           ok;
    }
    if (!options_.csvPath.empty())
      ok = writeCsv(options_.csvPath, false, report_, options_, startTime_, std::cerr) && ok;
    if (!options_.cumulativeCsvPath.empty()) {
      ok = writeCsv(options_.cumulativeCsvPath, true, report_, options_, startTime_, std::cerr) &&
           ok;
    }
    if (!options_.plotPath.empty())
      ok = writePlot(options_.plotPath, measuredPlot(report_, options_), std::cerr) && ok;
    return ok;
  }

  // -M: the host memory initialization took, the buffers took and the collectives added
  // (the peak resident set beyond the other two), the largest over the ranks (thread
  // ranks share their process's figures), as nccl-tests takes the largest GPU figures.
  // Every rank takes part.
  void measureMemory() {
    memoryUse_[2] = std::max<int64_t>(peakResidentBytes() - afterInit_ - memoryUse_[1], 0);
    for (int64_t& use : memoryUse_)
      use = allReduceValue<int64_t>(use, ncclInt64, ncclMax, "memory ncclAllReduce");
  }

  // -R: registers both buffers whole, as nccl-tests does.
  void registerBuffers() {
    char* buffers[2] = {send_.get(), recv_.get()};
    const size_t bytes = std::max<size_t>(bufferBytes_, 1);
    for (int i = 0; i < 2; ++i) {
      if (options_.registration == 1) {
        check(ncclCommRegister(comm_, buffers[i], bytes, &registered_[i]), "ncclCommRegister");
      } else if (options_.registration == 2) {
        check(
            ncclCommWindowRegister(comm_, buffers[i], bytes, &windows_[i], NCCL_WIN_COLL_SYMMETRIC),
            "ncclCommWindowRegister");
      }
    }
  }

  // Before the communicator goes; failures are only reported, as in a destructor.
  void deregisterBuffers() {
    for (int i = 0; i < 2; ++i) {
      if (registered_[i] != nullptr && ncclCommDeregister(comm_, registered_[i]) != ncclSuccess)
        std::fprintf(stderr, "prism-bench: rank %d: ncclCommDeregister failed\n", rank_);
      if (windows_[i] != nullptr && ncclCommWindowDeregister(comm_, windows_[i]) != ncclSuccess)
        std::fprintf(stderr, "prism-bench: rank %d: ncclCommWindowDeregister failed\n", rank_);
    }
  }

  void check(ncclResult_t result, const char* what) {
    if (result != ncclSuccess) failed_ = true;
    throwIfFailed(comm_, result, what);
  }

  // Every rank's process, host and device. Forked ranks know each other's pids already;
  // ranks a launcher started learn them with one small AllGather over host memory, so
  // every rank must call this.
  std::vector<RankInfo> rankInfos(const RankContext& context) {
    struct Identity {
      long pid;
      char host[64];
    };
    std::vector<Identity> all(static_cast<size_t>(nranks_));
    if (context.launched) {
      Identity mine{static_cast<long>(getpid()), {}};
      std::strncpy(mine.host, hostName().c_str(), sizeof(mine.host) - 1);
      check(ncclAllGather(&mine, all.data(), sizeof(Identity), ncclUint8, comm_, nullptr),
            "ncclAllGather of rank identities");
    } else {
      std::string host = hostName();
      for (int r = 0; r < nranks_; ++r) {
        all[r].pid = context.pids[r / context.nthreads];
        std::strncpy(all[r].host, host.c_str(), sizeof(all[r].host) - 1);
        all[r].host[sizeof(all[r].host) - 1] = '\0';
      }
    }
    std::vector<RankInfo> ranks;
    int devices = memory_->deviceCount();
    for (int r = 0; r < nranks_; ++r) {
      int device = devices > 0 ? r % devices : -1;
      ranks.push_back({r, all[r].pid, all[r].host, device, memory_->describe(device)});
    }
    return ranks;
  }

  void runCase(ncclDataType_t type, BenchOp benchOp, int root) {
    Case c{type, benchOp, builtinRedOp(benchOp), root};
    bool mulSum = usesRedOp(collective_) && benchOp == BenchOp::MulSum;
    if (mulSum) {
      alignas(8) unsigned char scalar[8] = {};
      Reference ref(collective_, type, benchOp, nranks_, root);
      storeElement(type, scalar, 0, ref.scalar(rank_));
      check(ncclRedOpCreatePreMulSum(&c.op, scalar, type, ncclScalarHostImmediate, comm_),
            "ncclRedOpCreatePreMulSum");
    }
    warmUp(c);
    // -N: the sweep again and again; 0 runs until the process is stopped.
    for (int cycle = 0; options_.runCycles == 0 || cycle < options_.runCycles; ++cycle) {
      for (size_t bytes : sizeSweep(options_)) {
        Layout layout = layoutFor(collective_, bytes, dataTypeSize(type), nranks_, rank_);
        ResultRow row{layout.reportedBytes,
                      layout.count,
                      dataTypeName(type),
                      usesRedOp(collective_) ? benchOpName(benchOp) : "none",
                      root,
                      measure(c, layout, false),
                      measure(c, layout, true),
                      std::nullopt};
        if (options_.predict) row.predictedUs = predict(c, layout);
        if (rank_ == 0) {
          const std::string stamp = options_.reportTimestamps ? localTimeString() : "";
          std::fputs(formatRow(row, collective_, nranks_, stamp).c_str(), stdout);
          std::fflush(stdout);
        }
        report_.add(std::move(row));
      }
    }
    if (mulSum) check(ncclRedOpDestroy(c.op, comm_), "ncclRedOpDestroy");
  }

  // -u: both buffers start this many bytes into their allocations.
  size_t unalignBytes(ncclDataType_t type) const {
    return static_cast<size_t>(options_.unalign) * dataTypeSize(type);
  }

  CallArgs callArgs(const Case& c, const Layout& layout, bool inPlace) {
    const size_t typeSize = dataTypeSize(c.type);
    char* sendBase = send_.get() + unalignBytes(c.type);
    char* recvBase = recv_.get() + unalignBytes(c.type);
    char* send = inPlace ? recvBase + layout.inPlaceSendOffset * typeSize : sendBase;
    char* recv = recvBase + (inPlace ? layout.inPlaceRecvOffset * typeSize : 0);
    return CallArgs{collective_, send,  recv,    layout.count, c.type,           c.op,
                    c.root,      rank_, nranks_, comm_,        memory_->stream()};
  }

  // The cost model's time for the call (out of place; the model does not tell the two
  // apart): the call issued inside a group that ncclGroupSimulateEnd closes, which
  // predicts the group and discards it without running anything.
  double predict(const Case& c, const Layout& layout) {
    ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER;
    check(ncclGroupStart(), "ncclGroupStart");
    const ncclResult_t issued = issueCollective(callArgs(c, layout, false));
    const ncclResult_t simulated = ncclGroupSimulateEnd(&sim);
    check(issued, ncclFunctionName(collective_));
    check(simulated, "ncclGroupSimulateEnd");
    return sim.estimatedTime;
  }

  // nccl-tests' warm-up before a sweep: -w calls at the largest size, then at the smallest,
  // so the first size is not timed on cold caches and freshly touched buffers. Each size
  // still gets -w calls of its own.
  void warmUp(const Case& c) {
    const std::vector<size_t> sizes = sizeSweep(options_);
    if (sizes.empty()) return;
    for (size_t bytes : {sizes.back(), sizes.front()}) {
      const Layout layout = layoutFor(collective_, bytes, dataTypeSize(c.type), nranks_, rank_);
      const CallArgs args = callArgs(c, layout, false);
      for (int i = 0; i < options_.warmupIters; ++i) call(args);
    }
    memory_->synchronize();
  }

  Measurement measure(const Case& c, const Layout& layout, bool inPlace) {
    const CallArgs args = callArgs(c, layout, inPlace);
    for (int i = 0; i < options_.warmupIters; ++i) call(args);
    memory_->synchronize();

    Measurement m;
    double timeUs = options_.graphLaunches > 0 ? timeGraph(args) : timeCalls(args);
    m.timeUs = combineTime(timeUs);
    // In place, a sendrecv sends from the buffer its receive overwrites: the data a rank
    // sends depends on how far the peer's bytes have arrived, as with NCCL, so nothing is
    // checked and the column says N/A, as nccl-tests' does.
    const bool undefined = inPlace && collective_ == Collective::SendRecv;
    if (options_.check && !undefined) {
      // -c N: up to N checks, stopping at the first that finds wrong values.
      m.wrong = 0;
      for (int i = 0; i < options_.checkIters && *m.wrong == 0; ++i)
        m.wrong = countWrong(c, layout, args, inPlace);
    }
    return m;
  }

  // nccl-tests' timing: the wall time of `iters` iterations of -m calls each and the
  // stream synchronization after them (a no-op for host memory, where calls complete on
  // return), per call. -C stops the clock before that synchronization, as nccl-tests'
  // cputime does: the time the host spent issuing the calls.
  double timeCalls(const CallArgs& args) {
    barrier();
    auto start = Clock::now();
    for (int i = 0; i < options_.iters; ++i) callIteration(args);
    const double issuedUs = microsecondsSince(start);
    memory_->synchronize();
    const double us = options_.reportCpuTime ? issuedUs : microsecondsSince(start);
    return us / (static_cast<double>(options_.iters) * options_.aggIters);
  }

  // -G: the `iters` iterations are captured into one graph once (capture runs nothing),
  // and the time of `graphLaunches` launches of it is divided by all the calls they make.
  double timeGraph(const CallArgs& args) {
    std::unique_ptr<CapturedGraph> graph = memory_->capture([&] {
      for (int i = 0; i < options_.iters; ++i) callIteration(args);
    });
    barrier();
    auto start = Clock::now();
    for (int i = 0; i < options_.graphLaunches; ++i) graph->launch();
    const double launchedUs = microsecondsSince(start);
    memory_->synchronize();
    const double us = options_.reportCpuTime ? launchedUs : microsecondsSince(start);
    return us / (static_cast<double>(options_.graphLaunches) * options_.iters * options_.aggIters);
  }

  // One untimed call on known data, checked on the host against the reference; for
  // memory the host cannot read, through host mirrors of the two buffers.
  int64_t countWrong(const Case& c, const Layout& layout, const CallArgs& args, bool inPlace) {
    const size_t typeSize = dataTypeSize(c.type);
    const bool mirrored = !memory_->hostAccessible();
    const size_t unalign = unalignBytes(c.type);
    char* sendHost = (mirrored ? sendMirror_.data() : send_.get()) + unalign;
    char* recvHost = (mirrored ? recvMirror_.data() : recv_.get()) + unalign;
    char* send = inPlace ? recvHost + layout.inPlaceSendOffset * typeSize : sendHost;
    char* recv = recvHost + (inPlace ? layout.inPlaceRecvOffset * typeSize : 0);
    const size_t recvBytes = layout.recvCount * typeSize;

    Reference ref(collective_, c.type, c.benchOp, nranks_, c.root);
    // Sentinel first: in place, the send data then overwrites the part it shares.
    std::memset(recv, kSentinelByte, recvBytes);
    ref.fillSend(send, layout, rank_);
    if (mirrored) {
      // In place, both buffers lie in the receive allocation's first reportedBytes.
      memory_->copyFromHost(recv_.get() + unalign, recvHost,
                            inPlace ? layout.reportedBytes : recvBytes);
      if (!inPlace)
        memory_->copyFromHost(send_.get() + unalign, sendHost, layout.sendCount * typeSize);
    }
    call(args);
    memory_->synchronize();
    if (mirrored) memory_->copyToHost(recv, args.recv, recvBytes);
    return sumOverRanks(static_cast<int64_t>(ref.countMismatches(recv, layout, rank_)));
  }

  void call(const CallArgs& args) {
    check(issueCollective(args), ncclFunctionName(collective_));
    waitIfBlocking();
  }

  // One timed iteration: -m calls in one group, as nccl-tests aggregates them, so that
  // the library may run them together; a lone call needs no group.
  void callIteration(const CallArgs& args) {
    if (options_.aggIters == 1) return call(args);
    check(ncclGroupStart(), "ncclGroupStart");
    ncclResult_t issued = ncclSuccess;
    for (int i = 0; i < options_.aggIters && issued == ncclSuccess; ++i)
      issued = issueCollective(args);
    // The group is closed even when queuing failed, so that no group stays open.
    const ncclResult_t ended = ncclGroupEnd();
    check(issued, ncclFunctionName(collective_));
    check(ended, "ncclGroupEnd");
    waitIfBlocking();
  }

  // -z: wait until ncclCommGetAsyncError reports the queued work complete.
  void waitIfBlocking() {
    if (!options_.blocking) return;
    ncclResult_t state = ncclInProgress;
    while (state == ncclInProgress)
      check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
    check(state, "asynchronous completion");
  }

  // An allreduce of one value through memory of the rank's kind on the rank's stream,
  // as a real NCCL needs, waited for before the value is read back.
  template <typename T>
  T allReduceValue(T value, ncclDataType_t type, ncclRedOp_t op, const char* what) {
    memory_->copyFromHost(scratch_.get(), &value, sizeof(T));
    check(ncclAllReduce(scratch_.get(), scratch_.get(), 1, type, op, comm_, memory_->stream()),
          what);
    memory_->synchronize();
    memory_->copyToHost(&value, scratch_.get(), sizeof(T));
    return value;
  }

  // No rank leaves before every rank has arrived.
  void barrier() { allReduceValue<int32_t>(0, ncclInt32, ncclSum, "barrier ncclAllReduce"); }

  double combineTime(double timeUs) {
    if (options_.average == Average::Rank0 || nranks_ == 1) return timeUs;
    ncclRedOp_t op = options_.average == Average::Min   ? ncclMin
                     : options_.average == Average::Max ? ncclMax
                                                        : ncclSum;
    timeUs = allReduceValue(timeUs, ncclFloat64, op, "time ncclAllReduce");
    return options_.average == Average::Mean ? timeUs / nranks_ : timeUs;
  }

  int64_t sumOverRanks(int64_t value) {
    return allReduceValue(value, ncclInt64, ncclSum, "#wrong ncclAllReduce");
  }

  const Options& options_;
  Collective collective_;
  int rank_;
  int nranks_;
  Report report_;
  std::unique_ptr<RankMemory> memory_;  // before the buffers, which it frees
  std::string startTime_;               // for -J and the CSV files
  std::vector<RankInfo> ranks_;         // every rank, as the header lists them
  size_t bufferBytes_ = 0;              // each of send_ and recv_: maxBytes plus -u's pad
  // -M: resident bytes that initialization, the buffers and the collectives added.
  int64_t memoryUse_[3] = {};
  int64_t afterInit_ = 0;
  ncclComm_t comm_ = nullptr;
  void* registered_[2] = {};      // -R 1: ncclCommRegister handles of send_ and recv_
  ncclWindow_t windows_[2] = {};  // -R 2
  bool failed_ = false;
  Buffer send_;
  Buffer recv_;
  Buffer scratch_;                // one value for barrier, time and #wrong reductions
  std::vector<char> sendMirror_;  // host copies, only where the host cannot read the
  std::vector<char> recvMirror_;  // buffers themselves
};

}  // namespace

int runRank(const Options& options, const RankContext& context) {
  return exitStatusOf(context.rank, [&] {
    RankBench bench(options, context);
    return bench.run();
  });
}

}  // namespace prism::bench
