#include "perf/bench/runner.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "perf/bench/collective_call.h"
#include "perf/bench/element_codec.h"
#include "perf/bench/json_report.h"
#include "perf/bench/reference.h"
#include "perf/bench/report.h"

namespace prism::bench {
namespace {

// A failed NCCL call; the message names the rank, the call and the library's reason.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bytes written over a receive buffer before a check run, so that an element the
// library never wrote cannot pass (it decodes as NaN or as a value no pattern uses).
constexpr int kSentinelByte = 0xff;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using HostBuffer = std::unique_ptr<char, FreeDeleter>;

// Allocates and touches every page once, so that first-touch faults stay out of timing.
HostBuffer allocateTouched(size_t bytes) {
  HostBuffer buffer(static_cast<char*>(std::malloc(bytes == 0 ? 1 : bytes)));
  if (!buffer) throw BenchError("out of memory allocating " + std::to_string(bytes) + " bytes");
  std::memset(buffer.get(), 0, bytes);
  return buffer;
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
  RankBench(const Options& options, const RankContext& context)
      : options_(options),
        collective_(*options.collective),
        rank_(context.rank),
        nranks_(context.nranks),
        report_(collective_, nranks_) {
    check(ncclCommInitRank(&comm_, nranks_, context.id, rank_), "ncclCommInitRank");
    if (rank_ == 0) {
      std::vector<RankInfo> ranks;
      std::string host = hostName();
      for (int r = 0; r < nranks_; ++r) ranks.push_back({r, context.pids[r], host});
      std::fputs(formatHeader(options_, ranks).c_str(), stdout);
      std::fflush(stdout);
    }
    send_ = allocateTouched(options_.maxBytes);
    recv_ = allocateTouched(options_.maxBytes);
  }

  ~RankBench() {
    if (comm_ == nullptr) return;
    // After a failure the peers may be gone or stuck; abort instead of a collective destroy.
    if (failed_) {
      ncclCommAbort(comm_);
    } else {
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
    } catch (const BenchError& e) {
      failed_ = true;
      std::fprintf(stderr, "prism-bench: rank %d: %s\n", rank_, e.what());
      return 1;
    }
    if (rank_ != 0) return 0;  // rank 0 reports wrong results and owns the verdict
    std::fputs(formatFooter(report_.totalWrong(), report_.avgBusBw()).c_str(), stdout);
    std::fflush(stdout);
    bool jsonOk =
        options_.jsonPath.empty() || writeJsonReport(options_.jsonPath, report_, options_);
    return report_.totalWrong() == 0 && jsonOk ? 0 : 1;
  }

 private:
  void check(ncclResult_t result, const char* what) {
    if (result == ncclSuccess) return;
    failed_ = true;
    std::string message = std::string(what) + " failed: " + ncclGetErrorString(result);
    const char* detail = ncclGetLastError(comm_);
    if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
    throw BenchError(message);
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
    for (size_t bytes : sizeSweep(options_)) {
      Layout layout = layoutFor(collective_, bytes, dataTypeSize(type), nranks_, rank_);
      ResultRow row{layout.reportedBytes,
                    layout.count,
                    dataTypeName(type),
                    usesRedOp(collective_) ? benchOpName(benchOp) : "none",
                    root,
                    measure(c, layout, false),
                    measure(c, layout, true)};
      if (rank_ == 0) {
        std::fputs(formatRow(row, collective_, nranks_).c_str(), stdout);
        std::fflush(stdout);
      }
      report_.add(std::move(row));
    }
    if (mulSum) check(ncclRedOpDestroy(c.op, comm_), "ncclRedOpDestroy");
  }

  Measurement measure(const Case& c, const Layout& layout, bool inPlace) {
    const size_t typeSize = dataTypeSize(c.type);
    char* send = inPlace ? recv_.get() + layout.inPlaceSendOffset * typeSize : send_.get();
    char* recv = recv_.get() + (inPlace ? layout.inPlaceRecvOffset * typeSize : 0);
    CallArgs args{collective_, send,   recv,  layout.count, c.type,
                  c.op,        c.root, rank_, nranks_,      comm_};
    for (int i = 0; i < options_.warmupIters; ++i) call(args);
    barrier();
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < options_.iters; ++i) call(args);
    std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;

    Measurement m;
    m.timeUs = combineTime(elapsed.count() / options_.iters);
    if (options_.check) {
      Reference ref(collective_, c.type, c.benchOp, nranks_, c.root);
      // Sentinel first: in place, the send data then overwrites the part it shares.
      std::memset(recv, kSentinelByte, layout.recvCount * typeSize);
      ref.fillSend(send, layout, rank_);
      call(args);
      m.wrong = sumOverRanks(static_cast<int64_t>(ref.countMismatches(recv, layout, rank_)));
    }
    return m;
  }

  void call(const CallArgs& args) {
    check(issueCollective(args), ncclFunctionName(collective_));
    if (!options_.blocking) return;
    ncclResult_t state = ncclInProgress;
    while (state == ncclInProgress)
      check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
    check(state, "asynchronous completion");
  }

  // An allreduce of one int: no rank leaves before every rank has arrived.
  void barrier() {
    check(ncclAllReduce(&barrierValue_, &barrierValue_, 1, ncclInt32, ncclSum, comm_, nullptr),
          "barrier ncclAllReduce");
  }

  double combineTime(double timeUs) {
    if (options_.average == Average::Rank0 || nranks_ == 1) return timeUs;
    ncclRedOp_t op = options_.average == Average::Min   ? ncclMin
                     : options_.average == Average::Max ? ncclMax
                                                        : ncclSum;
    check(ncclAllReduce(&timeUs, &timeUs, 1, ncclFloat64, op, comm_, nullptr),
          "time ncclAllReduce");
    return options_.average == Average::Mean ? timeUs / nranks_ : timeUs;
  }

  int64_t sumOverRanks(int64_t value) {
    check(ncclAllReduce(&value, &value, 1, ncclInt64, ncclSum, comm_, nullptr),
          "#wrong ncclAllReduce");
    return value;
  }

  const Options& options_;
  Collective collective_;
  int rank_;
  int nranks_;
  Report report_;
  ncclComm_t comm_ = nullptr;
  bool failed_ = false;
  int32_t barrierValue_ = 0;
  HostBuffer send_;
  HostBuffer recv_;
};

}  // namespace

int runRank(const Options& options, const RankContext& context) {
  try {
    RankBench bench(options, context);
    return bench.run();
  } catch (const BenchError& e) {
    std::fprintf(stderr, "prism-bench: rank %d: %s\n", context.rank, e.what());
    return 1;
  }
}

}  // namespace prism::bench
