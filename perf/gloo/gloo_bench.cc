// The Gloo peer of perf/mpi/mpi_bench.c, for perf/compare_hosts.sh: times Gloo's collectives
// over its TCP transport the way prism-bench times Prism's (nccl-tests columns and busbw
// factors). Float32 sum on buffers allocated once at the largest size; time per call is the
// mean over -n iterations after -w warm-ups, averaged over ranks; the first warm-up result of
// each size is checked against exact integer-valued data (send[i] = rank + i % 7).
//   RANK=r WORLD_SIZE=n MASTER_ADDR=a GLOO_STORE_DIR=dir gloo_bench
//   allreduce|allgather|reducescatter|broadcast|alltoall
//                [-b BYTES] [-e BYTES] [-f FACTOR] [-n ITERS] [-w WARMUP]
// Rendezvous: a gloo::rendezvous::FileStore in GLOO_STORE_DIR, a directory every rank sees
// (Debian's gloo has no TCP store, so MASTER_PORT is not used). Each rank's TCP device binds
// the address of its interface that routes to MASTER_ADDR (default 127.0.0.1).
// Gloo's public API per collective: gloo::allreduce (ring), gloo::allgather, gloo::broadcast
// (in place, as MPI_Bcast), gloo::alltoall; for reduce-scatter it has only the older
// ReduceScatterHalvingDoubling algorithm, which works in place on the send buffer and leaves
// this rank's block at its start.
// Build: g++ -O2 -std=c++17 -o gloo_bench gloo_bench.cc -lgloo -lpthread
#include <arpa/inet.h>
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/alltoall.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

enum class Coll { AllReduce, AllGather, ReduceScatter, Broadcast, AllToAll };
constexpr const char* kNames[] = {"allreduce", "allgather", "reducescatter", "broadcast",
                                  "alltoall"};
/// Every wait (rendezvous, each call) gives up after this long instead of hanging.
constexpr std::chrono::seconds kTimeout{300};

struct Options {
  int coll = -1;
  size_t minBytes = 32u << 20, maxBytes = 32u << 20, factor = 2;
  int iters = 20, warmup = 5;
};

/// The torchrun-style environment, read in one place.
struct Rendezvous {
  int rank = 0, size = 1;
  std::string masterAddr = "127.0.0.1";
  std::string storeDir;
};

size_t parseSize(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (*end == 'K' || *end == 'k') v *= 1024.0;
  if (*end == 'M' || *end == 'm') v *= 1024.0 * 1024.0;
  if (*end == 'G' || *end == 'g') v *= 1024.0 * 1024.0 * 1024.0;
  return static_cast<size_t>(v);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    for (int k = 0; k < 5; ++k)
      if (std::strcmp(argv[i], kNames[k]) == 0) o.coll = k;
    if (i + 1 >= argc) continue;
    std::string flag = argv[i];
    if (flag == "-b")
      o.minBytes = parseSize(argv[++i]);
    else if (flag == "-e")
      o.maxBytes = parseSize(argv[++i]);
    else if (flag == "-f")
      o.factor = parseSize(argv[++i]);
    else if (flag == "-n")
      o.iters = std::atoi(argv[++i]);
    else if (flag == "-w")
      o.warmup = std::atoi(argv[++i]);
  }
  return o;
}

Rendezvous readEnvironment() {
  Rendezvous r;
  const char* rank = std::getenv("RANK");
  const char* size = std::getenv("WORLD_SIZE");
  const char* addr = std::getenv("MASTER_ADDR");
  const char* dir = std::getenv("GLOO_STORE_DIR");
  if (rank == nullptr || size == nullptr || dir == nullptr)
    throw std::runtime_error("RANK, WORLD_SIZE and GLOO_STORE_DIR must be set");
  r.rank = std::atoi(rank);
  r.size = std::atoi(size);
  if (addr != nullptr && *addr != '\0') r.masterAddr = addr;
  r.storeDir = dir;
  if (r.size < 1 || r.rank < 0 || r.rank >= r.size)
    throw std::runtime_error("RANK must be in [0, WORLD_SIZE)");
  return r;
}

/// This host's address on the route to `peer`: a UDP connect sends nothing, but picks the
/// source address the kernel would use.
std::string localAddressTowards(const std::string& peer) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  if (inet_pton(AF_INET, peer.c_str(), &to.sin_addr) != 1)
    throw std::runtime_error("MASTER_ADDR is not an IPv4 address: " + peer);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in self{};
  socklen_t len = sizeof(self);
  bool ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len) == 0;
  if (fd >= 0) close(fd);
  char text[INET_ADDRSTRLEN] = {};
  if (!ok || inet_ntop(AF_INET, &self.sin_addr, text, sizeof(text)) == nullptr)
    throw std::runtime_error("no route to MASTER_ADDR " + peer);
  return text;
}

// Buffer sizes, element counts, busbw factors and the expected values follow mpi_bench.c,
// so that the two tables compare row by row.
void bufferBytes(Coll c, size_t bytes, int n, size_t* send, size_t* recv) {
  *send = *recv = bytes;
  if (c == Coll::AllGather) *send = bytes / n;
  if (c == Coll::ReduceScatter) *recv = bytes / n;
}

size_t elements(Coll c, size_t bytes, int n) {
  size_t count = bytes / sizeof(float);
  if (c == Coll::AllGather || c == Coll::ReduceScatter || c == Coll::AllToAll) count -= count % n;
  return count;
}

double busFactor(Coll c, int n) {
  if (c == Coll::AllReduce) return 2.0 * (n - 1) / n;
  if (c == Coll::Broadcast) return 1.0;
  return static_cast<double>(n - 1) / n;
}

long wrong(Coll c, const float* out, size_t count, int rank, int n) {
  long bad = 0;
  size_t block = count / n;
  size_t elems = c == Coll::ReduceScatter ? block : count;
  for (size_t i = 0; i < elems; ++i) {
    double want = 0;
    if (c == Coll::AllReduce) want = n * (n - 1) / 2.0 + n * static_cast<double>(i % 7);
    if (c == Coll::ReduceScatter)
      want = n * (n - 1) / 2.0 + n * static_cast<double>((rank * block + i) % 7);
    if (c == Coll::AllGather)
      want = static_cast<double>(i / block) + static_cast<double>((i % block) % 7);
    if (c == Coll::Broadcast) want = static_cast<double>(i % 7);
    if (c == Coll::AllToAll)
      want = static_cast<double>(i / block) + static_cast<double>((rank * block + i % block) % 7);
    if (out[i] != static_cast<float>(want)) ++bad;
  }
  return bad;
}

void sumFloats(void* c, const void* a, const void* b, size_t n) { gloo::sum<float>(c, a, b, n); }
void sumDoubles(void* c, const void* a, const void* b, size_t n) { gloo::sum<double>(c, a, b, n); }

using Call = std::function<void()>;

/// One collective of `count` elements, set up once per size (Gloo registers the buffers
/// there) and then run as often as timed; `result` is where this rank's output lands.
Call prepare(Coll c, const std::shared_ptr<gloo::Context>& ctx, float* send, float* recv,
             size_t count, const float** result) {
  const int n = ctx->size;
  *result = recv;
  switch (c) {
    case Coll::AllReduce: {
      auto opts = std::make_shared<gloo::AllreduceOptions>(ctx);
      opts->setInput(send, count);
      opts->setOutput(recv, count);
      opts->setReduceFunction(sumFloats);
      return [opts] { gloo::allreduce(*opts); };
    }
    case Coll::AllGather: {
      auto opts = std::make_shared<gloo::AllgatherOptions>(ctx);
      opts->setInput(send, count / n);
      opts->setOutput(recv, count);
      return [opts] { gloo::allgather(*opts); };
    }
    case Coll::ReduceScatter: {
      std::vector<int> blocks(n, static_cast<int>(count / n));
      auto algo = std::make_shared<gloo::ReduceScatterHalvingDoubling<float>>(
          ctx, std::vector<float*>{send}, static_cast<int>(count), blocks);
      *result = send;
      return [algo] { algo->run(); };
    }
    case Coll::Broadcast: {
      auto opts = std::make_shared<gloo::BroadcastOptions>(ctx);
      opts->setOutput(recv, count);
      opts->setRoot(0);
      return [opts] { gloo::broadcast(*opts); };
    }
    case Coll::AllToAll: {
      auto opts = std::make_shared<gloo::AlltoallOptions>(ctx);
      opts->setInput(send, count);
      opts->setOutput(recv, count);
      return [opts] { gloo::alltoall(*opts); };
    }
  }
  throw std::logic_error("unknown collective");
}

void barrier(const std::shared_ptr<gloo::Context>& ctx) {
  gloo::BarrierOptions opts(ctx);
  opts.setTag(2);
  gloo::barrier(opts);
}

/// Sums `values` over all ranks (the mean time and the wrong elements for rank 0's row).
void sumAcrossRanks(const std::shared_ptr<gloo::Context>& ctx, double* values, size_t n) {
  gloo::AllreduceOptions opts(ctx);
  opts.setOutput(values, n);
  opts.setReduceFunction(sumDoubles);
  opts.setTag(1);
  gloo::allreduce(opts);
}

std::shared_ptr<gloo::Context> connect(const Rendezvous& r) {
  gloo::transport::tcp::attr attr;
  attr.hostname = localAddressTowards(r.masterAddr);
  auto device = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore store(r.storeDir);
  auto ctx = std::make_shared<gloo::rendezvous::Context>(r.rank, r.size);
  ctx->setTimeout(kTimeout);
  ctx->connectFullMesh(store, device);
  return ctx;
}

int run(const Options& o, const Rendezvous& r) {
  auto ctx = connect(r);
  const int rank = ctx->rank, n = ctx->size;
  const Coll c = static_cast<Coll>(o.coll);
  size_t sendMax = 0, recvMax = 0;
  bufferBytes(c, o.maxBytes, n, &sendMax, &recvMax);
  std::vector<float> send(sendMax / sizeof(float) + 16), recv(recvMax / sizeof(float) + 16);
  if (rank == 0) {
    std::printf("# gloo_bench %s: %d ranks, float sum\n", kNames[o.coll], n);
    std::printf("#%12s %12s %8s %10s %8s %8s %6s\n", "size", "count", "type", "time(us)", "algbw",
                "busbw", "#wrong");
  }
  const float* result = nullptr;
  // As mpi_bench: warm-up calls at the largest size, then the smallest, before the sweep.
  for (size_t bytes : {o.maxBytes, o.minBytes}) {
    size_t count = elements(c, bytes, n);
    if (count == 0) continue;
    Call call = prepare(c, ctx, send.data(), recv.data(), count, &result);
    barrier(ctx);
    for (int i = 0; i < o.warmup; ++i) call();
  }
  long totalWrong = 0;
  for (size_t bytes = o.minBytes; bytes <= o.maxBytes; bytes *= o.factor) {
    size_t count = elements(c, bytes, n);
    if (count == 0) continue;
    Call call = prepare(c, ctx, send.data(), recv.data(), count, &result);
    size_t sendBytes = 0, recvBytes = 0;
    bufferBytes(c, count * sizeof(float), n, &sendBytes, &recvBytes);
    for (size_t i = 0; i < sendBytes / sizeof(float); ++i)
      send[i] = static_cast<float>(rank + i % 7);
    if (c == Coll::Broadcast)
      for (size_t i = 0; i < count; ++i) recv[i] = rank == 0 ? static_cast<float>(i % 7) : -1.0f;
    barrier(ctx);  // every rank has registered this size's buffers
    call();
    long bad = wrong(c, result, count, rank, n);
    for (int i = 1; i < o.warmup; ++i) call();
    barrier(ctx);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < o.iters; ++i) call();
    std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - t0;
    double sums[2] = {elapsed.count() / o.iters, static_cast<double>(bad)};
    sumAcrossRanks(ctx, sums, 2);
    if (rank == 0) {
      double mean = sums[0] / n, algbw = count * sizeof(float) / mean / 1e3;
      long badAll = static_cast<long>(sums[1]);
      std::printf(" %12zu %12zu %8s %10.2f %8.2f %8.2f %6ld\n", count * sizeof(float), count,
                  "float", mean, algbw, algbw * busFactor(c, n), badAll);
      std::fflush(stdout);
      totalWrong += badAll;
    }
  }
  barrier(ctx);
  return totalWrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseOptions(argc, argv);
  if (o.coll < 0 || o.factor < 2 || o.iters < 1 || o.warmup < 1) {
    std::fprintf(stderr, "usage: gloo_bench COLLECTIVE [-b -e -f -n -w]\n");
    return 2;
  }
  try {
    return run(o, readEnvironment());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gloo_bench: %s\n", e.what());
    return 1;
  }
}
