#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <regex>
#include <vector>

#include "perf/soak/soak_trial.h"

namespace prism::soak {

namespace {

/// A collective with a result every rank can check from the seed alone.
enum class Kind { AllReduce, AllGather, Broadcast, ReduceScatter, AllToAll, Count };

float inputValue(int rank, size_t i) { return static_cast<float>(rank + 1 + (i % 7)); }

/// Runs one verified collective; returns its result and counts wrong elements.
ncclResult_t runOne(ncclComm_t comm, int rank, int n, Kind kind, size_t count, int root,
                    std::vector<float>& in, std::vector<float>& out, int& wrong) {
  const size_t total = count * static_cast<size_t>(n);
  in.assign(total, 0.0f);
  out.assign(total, -1.0f);
  for (size_t i = 0; i < total; ++i) in[i] = inputValue(rank, i);
  ncclResult_t r = ncclSuccess;
  size_t check = 0;
  auto expect = [&](size_t i) -> float {
    switch (kind) {
      case Kind::AllReduce: {
        float s = 0;
        for (int q = 0; q < n; ++q) s += inputValue(q, i);
        return s;
      }
      case Kind::AllGather:
        return inputValue(static_cast<int>(i / count), i % count);
      case Kind::Broadcast:
        return inputValue(root, i);
      case Kind::ReduceScatter: {
        float s = 0;
        for (int q = 0; q < n; ++q) s += inputValue(q, static_cast<size_t>(rank) * count + i);
        return s;
      }
      default:  // AllToAll: block q of the output is block `rank` of rank q's input
        return inputValue(static_cast<int>(i / count),
                          static_cast<size_t>(rank) * count + i % count);
    }
  };
  switch (kind) {
    case Kind::AllReduce:
      r = ncclAllReduce(in.data(), out.data(), count, ncclFloat32, ncclSum, comm, nullptr);
      check = count;
      break;
    case Kind::AllGather:
      r = ncclAllGather(in.data(), out.data(), count, ncclFloat32, comm, nullptr);
      check = total;
      break;
    case Kind::Broadcast:
      r = ncclBroadcast(in.data(), out.data(), count, ncclFloat32, root, comm, nullptr);
      check = count;
      break;
    case Kind::ReduceScatter:
      r = ncclReduceScatter(in.data(), out.data(), count, ncclFloat32, ncclSum, comm, nullptr);
      check = count;
      break;
    default:
      r = ncclAlltoAll(in.data(), out.data(), count, ncclFloat32, comm, nullptr);
      check = total;
      break;
  }
  if (r != ncclSuccess) return r;
  for (size_t i = 0; i < check; ++i) wrong += out[i] != expect(i);
  return r;
}

void copyText(char* dst, size_t size, const char* src) {
  std::snprintf(dst, size, "%s", src ? src : "");
}

}  // namespace

double now() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

int blamedRank(const std::string& message) {
  static const std::regex pattern(R"(rank (\d+) \(pid|connection to rank (\d+) lost)");
  std::smatch m;
  if (!std::regex_search(message, m, pattern)) return -1;
  return std::stoi(m[1].matched ? m[1].str() : m[2].str());
}

void runRank(TrialBoard& board, int rank) {
  RankRecord& me = board.ranks[rank];
  ncclComm_t comm = nullptr;
  ncclResult_t r = ncclCommInitRank(&comm, board.nranks, board.id, rank);
  if (r != ncclSuccess) {
    me.result = r;
    copyText(me.message, sizeof(me.message), ncclGetLastError(nullptr));
    _exit(2);
  }
  __atomic_store_n(&me.ready, 1, __ATOMIC_RELEASE);
  // Every rank draws the same sequence of calls from the trial's seed.
  std::mt19937_64 rng(board.seed);
  std::vector<float> in, out;
  const int n = board.nranks;
  const double giveUp = now() + 30;
  while (r == ncclSuccess && now() < giveUp) {
    const auto kind = static_cast<Kind>(rng() % static_cast<uint64_t>(Kind::Count));
    const size_t count = 1 + rng() % (size_t{1} << (rng() % 17));
    const int root = static_cast<int>(rng() % static_cast<uint64_t>(n));
    r = runOne(comm, rank, n, kind, count, root, in, out, me.wrong);
    if (r == ncclSuccess) ++me.calls;
  }
  me.failedAt = now();
  me.result = r;
  copyText(me.message, sizeof(me.message), ncclGetLastError(comm));
  ncclResult_t async = ncclSuccess;
  me.async = ncclCommGetAsyncError(comm, &async) == ncclSuccess ? async : -1;

  // What a launcher tells the survivors: which rank is gone.
  int dead = board.victim;
  ncclComm_t shrunk = nullptr;
  me.shrink = ncclCommShrink(comm, &dead, 1, &shrunk, nullptr, NCCL_SHRINK_ABORT);
  if (me.shrink == ncclSuccess) {
    const int survivors = n - 1;
    int newRank = -1;
    ncclCommUserRank(shrunk, &newRank);
    float value = static_cast<float>(newRank + 1), sum = 0;
    const ncclResult_t s = ncclAllReduce(&value, &sum, 1, ncclFloat32, ncclSum, shrunk, nullptr);
    me.shrunkOk = s == ncclSuccess && sum == static_cast<float>(survivors * (survivors + 1) / 2);
    if (!me.shrunkOk)
      copyText(me.shrinkMessage, sizeof(me.shrinkMessage), ncclGetLastError(shrunk));
    ncclCommDestroy(shrunk);
  } else {
    copyText(me.shrinkMessage, sizeof(me.shrinkMessage), ncclGetLastError(comm));
  }
  ncclCommAbort(comm);
  _exit(0);
}

}  // namespace prism::soak
