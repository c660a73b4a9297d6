// A rank that dies without a word mid-collective over a network transport: every survivor
// fails within the timeout with ncclRemoteError naming the dead rank, in the failed call
// and in ncclCommGetAsyncError, for Prism's TCP, for UCX (over UCX's tcp) and for an NCCL
// network plugin (the test plugin of tests/plugins/net).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "nccl.h"
#include "tests/harness/forked_ranks.h"
#include "tests/harness/scoped_env.h"
#include "transports/ucx/ucx_transport.h"

namespace prism {
namespace {

using prism::testing::ScopedEnv;
using test::forkAll;
using test::noteError;
using test::Report;

class NetworkFailure : public ::testing::TestWithParam<const char*> {};

TEST_P(NetworkFailure, PeerDeathMidCollectiveFailsSurvivorsNamingIt) {
  const std::string kind = GetParam();
  if (kind == "ucx" && !ucxBuilt()) GTEST_SKIP() << "this build has no UCX transport";
  ScopedEnv transport("PRISM_TRANSPORT", kind.c_str());
  ScopedEnv plugin("NCCL_NET_PLUGIN", PRISM_TEST_PLUGIN_DIR "/libnccl-net-prismtest.so");
  ScopedEnv tls("UCX_TLS", "tcp");
  ScopedEnv devices("UCX_NET_DEVICES", "lo");
  ScopedEnv timeout("PRISM_TIMEOUT_S", "20");
  constexpr int kRanks = 3;
  constexpr int kVictim = 2;
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  std::vector<std::function<void(Report&)>> bodies;
  for (int rank = 0; rank < kRanks; ++rank) {
    bodies.push_back([rank, &id](Report& r) {
      ncclComm_t comm = nullptr;
      ncclResult_t res = ncclCommInitRank(&comm, kRanks, id, rank);
      if (res != ncclSuccess) return noteError(r, res, nullptr);
      std::vector<float> buf(1 << 20, 1.0f);
      res = ncclAllReduce(buf.data(), buf.data(), 16, ncclFloat32, ncclSum, comm, nullptr);
      if (res != ncclSuccess) return noteError(r, res, comm);
      // The victim dies without a word; the survivors start a large collective.
      if (rank == kVictim) ::_exit(0);
      for (int i = 0; i < 50 && res == ncclSuccess; ++i) {
        res =
            ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr);
      }
      noteError(r, res, comm);
      ncclCommAbort(comm);
    });
  }
  std::vector<bool> exited;
  auto reports = forkAll(bodies, std::chrono::seconds(50), &exited);
  for (int rank = 0; rank < kRanks; ++rank) {
    if (rank == kVictim) continue;
    EXPECT_TRUE(exited[rank]) << "rank " << rank << " hung";
    EXPECT_EQ(reports[rank].result, ncclRemoteError)
        << "rank " << rank << ": " << reports[rank].message;
    EXPECT_NE(std::string(reports[rank].message).find("rank " + std::to_string(kVictim)),
              std::string::npos)
        << "rank " << rank << "'s error does not name the dead rank: " << reports[rank].message;
    // Watchdogs (PyTorch's among them) poll this, not the failed call's result.
    EXPECT_EQ(reports[rank].async, ncclRemoteError)
        << "rank " << rank << ": ncclCommGetAsyncError does not report the lost peer";
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, NetworkFailure, ::testing::Values("tcp", "ucx", "net"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace prism
