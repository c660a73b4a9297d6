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
#include "perf/bench/element_codec.h"
#include "perf/bench/json_report.h"
#include "perf/bench/rank_memory.h"
#include "perf/bench/reference.h"
#include "perf/bench/report.h"

namespace prism::bench {
namespace {

// Bytes written over a receive buffer before a check run, so that an element the
// library never wrote cannot pass (it decodes as NaN or as a value no pattern uses).
constexpr int kSentinelByte = 0xff;

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
        memory_(RankMemory::create(options.mem, context.rank)) {
    check(ncclCommInitRank(&comm_, nranks_, context.id, rank_), "ncclCommInitRank");
    std::vector<RankInfo> ranks = rankInfos(context);
    if (rank_ == 0) {
      std::fputs(formatHeader(options_, ranks).c_str(), stdout);
      std::fflush(stdout);
    }
    send_ = memory_->allocate(options_.maxBytes);
    recv_ = memory_->allocate(options_.maxBytes);
    scratch_ = memory_->allocate(sizeof(double));
    registerBuffers();
    if (!memory_->hostAccessible() && options_.check) {
      sendMirror_.resize(options_.maxBytes);
      recvMirror_.resize(options_.maxBytes);
    }
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
    } catch (const SetupError& e) {
      return fail(e, 2);
    } catch (const BenchError& e) {
      return fail(e, 1);
    }
    if (rank_ != 0) return 0;  // rank 0 reports wrong results and owns the verdict
    std::fputs(formatFooter(report_.totalWrong(), report_.avgBusBw()).c_str(), stdout);
    std::fflush(stdout);
    bool jsonOk =
        options_.jsonPath.empty() || writeJsonReport(options_.jsonPath, report_, options_);
    if (!options_.plotPath.empty())
      jsonOk = writePlot(options_.plotPath, measuredPlot(report_, options_), std::cerr) && jsonOk;
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

  // -R: registers both buffers whole, as nccl-tests does.
  void registerBuffers() {
    char* buffers[2] = {send_.get(), recv_.get()};
    const size_t bytes = std::max<size_t>(options_.maxBytes, 1);
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
        std::fputs(formatRow(row, collective_, nranks_).c_str(), stdout);
        std::fflush(stdout);
      }
      report_.add(std::move(row));
    }
    if (mulSum) check(ncclRedOpDestroy(c.op, comm_), "ncclRedOpDestroy");
  }

  CallArgs callArgs(const Case& c, const Layout& layout, bool inPlace) {
    const size_t typeSize = dataTypeSize(c.type);
    char* send = inPlace ? recv_.get() + layout.inPlaceSendOffset * typeSize : send_.get();
    char* recv = recv_.get() + (inPlace ? layout.inPlaceRecvOffset * typeSize : 0);
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
    if (options_.check && !undefined) m.wrong = countWrong(c, layout, args, inPlace);
    return m;
  }

  // nccl-tests' timing: the wall time of `iters` calls and the stream synchronization
  // after them (a no-op for host memory, where calls complete on return), per call.
  double timeCalls(const CallArgs& args) {
    barrier();
    auto start = Clock::now();
    for (int i = 0; i < options_.iters; ++i) call(args);
    memory_->synchronize();
    return microsecondsSince(start) / options_.iters;
  }

  // -G: the `iters` calls are captured into one graph once (capture runs nothing), and
  // the time of `graphLaunches` launches of it is divided by all the calls they make.
  double timeGraph(const CallArgs& args) {
    std::unique_ptr<CapturedGraph> graph = memory_->capture([&] {
      for (int i = 0; i < options_.iters; ++i) call(args);
    });
    barrier();
    auto start = Clock::now();
    for (int i = 0; i < options_.graphLaunches; ++i) graph->launch();
    memory_->synchronize();
    return microsecondsSince(start) /
           (static_cast<double>(options_.graphLaunches) * options_.iters);
  }

  // One untimed call on known data, checked on the host against the reference; for
  // memory the host cannot read, through host mirrors of the two buffers.
  int64_t countWrong(const Case& c, const Layout& layout, const CallArgs& args, bool inPlace) {
    const size_t typeSize = dataTypeSize(c.type);
    const bool mirrored = !memory_->hostAccessible();
    char* sendHost = mirrored ? sendMirror_.data() : send_.get();
    char* recvHost = mirrored ? recvMirror_.data() : recv_.get();
    char* send = inPlace ? recvHost + layout.inPlaceSendOffset * typeSize : sendHost;
    char* recv = recvHost + (inPlace ? layout.inPlaceRecvOffset * typeSize : 0);
    const size_t recvBytes = layout.recvCount * typeSize;

    Reference ref(collective_, c.type, c.benchOp, nranks_, c.root);
    // Sentinel first: in place, the send data then overwrites the part it shares.
    std::memset(recv, kSentinelByte, recvBytes);
    ref.fillSend(send, layout, rank_);
    if (mirrored) {
      // In place, both buffers lie in the receive allocation's first reportedBytes.
      memory_->copyFromHost(recv_.get(), recvHost, inPlace ? layout.reportedBytes : recvBytes);
      if (!inPlace) memory_->copyFromHost(send_.get(), sendHost, layout.sendCount * typeSize);
    }
    call(args);
    memory_->synchronize();
    if (mirrored) memory_->copyToHost(recv, args.recv, recvBytes);
    return sumOverRanks(static_cast<int64_t>(ref.countMismatches(recv, layout, rank_)));
  }

  void call(const CallArgs& args) {
    check(issueCollective(args), ncclFunctionName(collective_));
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
