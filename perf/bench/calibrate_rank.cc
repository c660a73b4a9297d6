// The measuring half of prism-bench --calibrate: every rank runs this with PRISM_ALGO=ring,
// through the public API only, on host memory.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nccl.h"
#include "perf/bench/calibrate.h"
#include "perf/bench/rank_memory.h"

namespace prism::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Small-message timings are batches of this many calls, so the clock's cost is noise.
constexpr int kSmallBatch = 50;
constexpr int kSmallRepeats = 9;
// Large-message timings: this many batches of -n / kLargeRepeats calls (at least one),
// back to back like prism-bench's own timing, so the two measure the same thing.
constexpr int kLargeRepeats = 5;
constexpr int kNetworkRepeats = 5;
constexpr size_t kHostNameBytes = 128;

class Calibrator {
 public:
  Calibrator(const Options& options, const RankContext& context)
      : options_(options), rank_(context.rank), nranks_(context.nranks) {
    if (nranks_ < 2) throw SetupError("--calibrate needs at least 2 ranks (-np or -t)");
    const std::vector<size_t> sizes = calibrationSizes(options.maxBytes, nranks_);
    largeBytes_ = sizes.empty() ? 0 : sizes.back();
    if (largeBytes_ == 0)
      throw SetupError("--calibrate: -e is too small for the large measurements");
    check(ncclCommInitRank(&comm_, nranks_, context.id, rank_), "ncclCommInitRank");
    send_.assign(largeBytes_, 1);
    recv_.assign(largeBytes_, 0);
  }

  ~Calibrator() {
    if (comm_ == nullptr) return;
    if (failed_) {
      ncclCommAbort(comm_);
    } else {
      ncclCommDestroy(comm_);
    }
  }

  Calibrator(const Calibrator&) = delete;
  Calibrator& operator=(const Calibrator&) = delete;

  int run() {
    CalibrationSamples s;
    s.nranks = nranks_;
    s.linkGbit = options_.linkGbit;
    if (const char* tuning = std::getenv("PRISM_TUNING_FILE"); tuning != nullptr && *tuning) {
      std::ifstream in(tuning);
      std::stringstream text;
      text << in.rdbuf();
      readCarriedFields(text.str(), &s.base);
    }
    const int batch = std::max(1, options_.iters / kLargeRepeats);
    s.smallAllReduceUs = timeAllReduce(2, kSmallBatch, kSmallRepeats);
    for (size_t bytes : calibrationSizes(options_.maxBytes, nranks_)) {
      const size_t floats = bytes / sizeof(float);
      s.allGather.push_back(
          {bytes, timeAllGather(floats / static_cast<size_t>(nranks_), batch, kLargeRepeats)});
      s.allReduce.push_back({bytes, timeAllReduce(floats, batch, kLargeRepeats)});
    }
    const int peer = firstRemoteRank();
    if (peer > 0) {
      s.networkSmallUs = timePingPong(peer, 8, kSmallBatch / 5);
      s.networkBytes = largeBytes_;
      s.networkLargeUs = timePingPong(peer, largeBytes_, 1);
    }
    barrier();
    if (rank_ != 0) return 0;
    const Calibration result = deriveProfile(s);
    std::fputs(formatCalibration(s, result).c_str(), stdout);
    std::ofstream file(options_.calibratePath);
    if (file) file << formatProfileJson(result.profile);
    if (!file) {
      std::fprintf(stderr, "prism-bench: cannot write %s: %s\n", options_.calibratePath.c_str(),
                   std::strerror(errno));
      return 1;
    }
    std::printf("# Wrote %s (load it with PRISM_TUNING_FILE=%s)\n", options_.calibratePath.c_str(),
                options_.calibratePath.c_str());
    std::fflush(stdout);
    return 0;
  }

 private:
  void check(ncclResult_t result, const char* what) {
    if (result != ncclSuccess) failed_ = true;
    throwIfFailed(comm_, result, what);
  }

  // Median over `repeats` of the per-call time of `batch` back-to-back calls of `body`,
  // each repeat averaged over the ranks (nccl-tests' default -a 1), or rank 0's alone.
  template <typename Body>
  double timeMedian(int batch, int repeats, Body body, bool rank0Only = false) {
    for (int i = 0; i < options_.warmupIters; ++i) body();
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
      barrier();
      const auto start = Clock::now();
      for (int i = 0; i < batch; ++i) body();
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      times.push_back(rank0Only ? sumOverRanks(rank_ == 0 ? us / batch : 0)
                                : sumOverRanks(us / batch) / nranks_);
    }
    return median(times);
  }

  double timeAllReduce(size_t count, int batch, int repeats) {
    return timeMedian(batch, repeats, [&] {
      check(ncclAllReduce(send_.data(), recv_.data(), count, ncclFloat32, ncclSum, comm_, nullptr),
            "ncclAllReduce");
    });
  }

  double timeAllGather(size_t count, int batch, int repeats) {
    return timeMedian(batch, repeats, [&] {
      check(ncclAllGather(send_.data(), recv_.data(), count, ncclFloat32, comm_, nullptr),
            "ncclAllGather");
    });
  }

  // Half a round trip of `bytes` between rank 0 and `peer`, on rank 0's clock; the other
  // ranks only take part in the barriers.
  double timePingPong(int peer, size_t bytes, int batch) {
    const double roundTrip = timeMedian(
        batch, kNetworkRepeats,
        [&] {
          if (rank_ == 0) {
            check(ncclSend(send_.data(), bytes, ncclUint8, peer, comm_, nullptr), "ncclSend");
            check(ncclRecv(recv_.data(), bytes, ncclUint8, peer, comm_, nullptr), "ncclRecv");
          } else if (rank_ == peer) {
            check(ncclRecv(recv_.data(), bytes, ncclUint8, 0, comm_, nullptr), "ncclRecv");
            check(ncclSend(send_.data(), bytes, ncclUint8, 0, comm_, nullptr), "ncclSend");
          }
        },
        true);
    return roundTrip / 2;
  }

  // The first rank whose host name differs from rank 0's; 0 when all share one host.
  int firstRemoteRank() {
    // Host name plus network namespace, as the library tells hosts apart: emulated hosts
    // (prism-run --hosts) share the machine's name.
    std::vector<char> mine(kHostNameBytes, '\0');
    gethostname(mine.data(), kHostNameBytes / 2 - 1);
    const size_t used = std::strlen(mine.data());
    if (readlink("/proc/self/ns/net", mine.data() + used, kHostNameBytes - used - 1) < 0) {
      mine[used] = '\0';
    }
    std::vector<char> all(kHostNameBytes * static_cast<size_t>(nranks_));
    check(ncclAllGather(mine.data(), all.data(), kHostNameBytes, ncclUint8, comm_, nullptr),
          "ncclAllGather of host names");
    for (int r = 1; r < nranks_; ++r) {
      if (std::strncmp(all.data(), all.data() + kHostNameBytes * r, kHostNameBytes) != 0) return r;
    }
    return 0;
  }

  void barrier() { sumOverRanks(0); }

  double sumOverRanks(double value) {
    double out = 0;
    check(ncclAllReduce(&value, &out, 1, ncclFloat64, ncclSum, comm_, nullptr), "ncclAllReduce");
    return out;
  }

  const Options& options_;
  int rank_;
  int nranks_;
  size_t largeBytes_ = 0;
  ncclComm_t comm_ = nullptr;
  bool failed_ = false;
  std::vector<char> send_;
  std::vector<char> recv_;
};

}  // namespace

int runCalibrationRank(const Options& options, const RankContext& context) {
  return exitStatusOf(context.rank, [&] {
    Calibrator calibrator(options, context);
    return calibrator.run();
  });
}

}  // namespace prism::bench
