// A program outside Prism's tree, built against an installed Prism only, on the native C++
// API (prism/comm.hpp, prism/collective.hpp, prism/prism.h) and libprism.so: two ranks as
// threads join a communicator, allreduce, split and build a device mesh, and check that a
// CommError thrown inside libprism is caught here by type. Every call is a symbol that
// libprism.so's version script (src/api/exports.map) must export, or this does not link.
// Prints OK and exits 0 when both ranks pass.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "prism/collective.hpp"
#include "prism/comm.hpp"
#include "prism/prism.h"

namespace {

constexpr int kRanks = 2;
constexpr size_t kCount = 1000;

void check(bool ok, int rank, const std::string& what) {
  if (!ok) throw std::runtime_error("rank " + std::to_string(rank) + ": " + what);
}

void runRank(const ncclUniqueId& id, int rank) {
  prism::Comm world = prism::Comm::fromUniqueId(id, kRanks, rank);
  check(world.valid() && world.rank() == rank && world.size() == kRanks, rank, "rank/size");

  std::vector<double> send(kCount), recv(kCount);
  for (size_t i = 0; i < kCount; ++i) send[i] = double(rank + 1) * double(i);
  prism::Work work = world.allReduce(send.data(), recv.data(), kCount, ncclFloat64, ncclSum);
  check(work.wait(std::chrono::seconds(30)) && work.test(), rank, "allReduce did not complete");
  for (size_t i = 0; i < kCount; ++i) check(recv[i] == 3.0 * double(i), rank, "allReduce sum");
  check(work.bytes() == kCount * sizeof(double), rank, "Work::bytes");

  prism::Comm alone = world.split(rank, 0);
  check(alone.size() == 1, rank, "split");
  prism::DeviceMesh mesh(world, prism::MeshShape{.dp = kRanks});
  check(mesh.dp().size() == kRanks && mesh.dpRank() == rank, rank, "DeviceMesh");
  world.synchronize();

  // Thrown inside libprism, caught here: CommError's type information is exported.
  prism::Comm empty;
  try {
    empty.synchronize();
    check(false, rank, "an empty Comm did not throw");
  } catch (const prism::CommError& error) {
    check(error.code() == ncclInvalidUsage, rank, "CommError code");
  }
}

}  // namespace

int main() {
  check(std::strcmp(prismVersionString(), PRISM_EXPECTED_VERSION) == 0, -1,
        std::string("libprism is ") + prismVersionString() + ", the package " +
            PRISM_EXPECTED_VERSION);
  check(std::strcmp(prism::collectiveName(prism::Collective::AllReduce), "AllReduce") == 0 &&
            prism::busBandwidthFactor(prism::Collective::AllReduce, kRanks) == 1.0,
        -1, "collectiveName / busBandwidthFactor");
  ncclUniqueId id;
  check(ncclGetUniqueId(&id) == ncclSuccess, -1, "ncclGetUniqueId");
  std::vector<std::exception_ptr> errors(kRanks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        runRank(id, rank);
      } catch (...) {
        errors[rank] = std::current_exception();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int failed = 0;
  for (const std::exception_ptr& error : errors) {
    if (!error) continue;
    ++failed;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
    }
  }
  std::printf("%s: %d-rank allreduce through the native C++ API of libprism %s\n",
              failed ? "FAIL" : "OK", kRanks, prismVersionString());
  return failed ? 1 : 0;
}
