// launchInfoFromEnvironment for each launcher's variables, the rendezvous rule, clear errors
// for missing pieces, and communicators built from uniqueIdFromRendezvous.
#include "src/launch/launch_env.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nccl.h"
#include "prism/prism.h"
#include "tests/harness/scoped_env.h"

namespace {

using prism::CommError;
using prism::LaunchInfo;
using prism::testing::ScopedEnv;

// Every variable launch_env.cc may read; each test starts with all of them unset.
const char* const kAllVars[] = {"PRISM_RANK",
                                "PRISM_NRANKS",
                                "PRISM_LOCAL_RANK",
                                "PRISM_LOCAL_SIZE",
                                "PRISM_RENDEZVOUS",
                                "PRISM_JOB_SECRET",
                                "OMPI_COMM_WORLD_RANK",
                                "OMPI_COMM_WORLD_SIZE",
                                "OMPI_COMM_WORLD_LOCAL_RANK",
                                "OMPI_COMM_WORLD_LOCAL_SIZE",
                                "OMPI_MCA_ess_base_jobid",
                                "PMIX_NAMESPACE",
                                "PMI_RANK",
                                "PMI_SIZE",
                                "MPI_LOCALRANKID",
                                "MPI_LOCALNRANKS",
                                "PMI_JOBID",
                                "SLURM_PROCID",
                                "SLURM_NTASKS",
                                "SLURM_LOCALID",
                                "SLURM_NTASKS_PER_NODE",
                                "SLURM_STEP_TASKS_PER_NODE",
                                "SLURM_TASKS_PER_NODE",
                                "SLURM_NODEID",
                                "SLURM_STEP_NUM_NODES",
                                "SLURM_NNODES",
                                "SLURM_STEP_NODELIST",
                                "SLURM_JOB_ID",
                                "SLURM_STEP_ID",
                                "RANK",
                                "WORLD_SIZE",
                                "LOCAL_RANK",
                                "LOCAL_WORLD_SIZE",
                                "MASTER_ADDR",
                                "MASTER_PORT",
                                "TORCHELASTIC_RUN_ID",
                                "PRISM_JOB_SECRET",
                                "PRISM_JOB_SECRET_FILE"};

class LaunchEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kAllVars) clear_.push_back(std::make_unique<ScopedEnv>(name, nullptr));
  }
  void TearDown() override {
    set_.clear();
    clear_.clear();
  }
  void set(const char* name, const char* value) {
    set_.push_back(std::make_unique<ScopedEnv>(name, value));
  }
  // The reason launchInfoFromEnvironment gives, or "" when it succeeds.
  static std::string errorText() {
    try {
      prism::launchInfoFromEnvironment();
    } catch (const CommError& e) {
      EXPECT_EQ(e.code(), ncclInvalidUsage);
      return e.what();
    }
    return "";
  }

 private:
  std::vector<std::unique_ptr<ScopedEnv>> clear_;
  std::vector<std::unique_ptr<ScopedEnv>> set_;
};

int portOf(const std::string& rendezvous) {
  return std::stoi(rendezvous.substr(rendezvous.rfind(':') + 1));
}

TEST_F(LaunchEnv, PrismRunVariables) {
  set("PRISM_RANK", "2");
  set("PRISM_NRANKS", "4");
  set("PRISM_LOCAL_RANK", "0");
  set("PRISM_LOCAL_SIZE", "2");
  set("PRISM_RENDEZVOUS", "10.1.0.1:29500");
  LaunchInfo info = prism::launchInfoFromEnvironment();
  EXPECT_EQ(info.source, "prism-run");
  EXPECT_EQ(info.rank, 2);
  EXPECT_EQ(info.size, 4);
  EXPECT_EQ(info.localRank, 0);
  EXPECT_EQ(info.localSize, 2);
  EXPECT_EQ(info.rendezvous, "10.1.0.1:29500");
}

TEST_F(LaunchEnv, PrismRunWinsOverOtherLaunchers) {
  set("OMPI_COMM_WORLD_RANK", "1");
  set("OMPI_COMM_WORLD_SIZE", "8");
  set("PRISM_RANK", "0");
  set("PRISM_NRANKS", "1");
  set("PRISM_RENDEZVOUS", "127.0.0.1:5000");
  LaunchInfo info = prism::launchInfoFromEnvironment();
  EXPECT_EQ(info.source, "prism-run");
  EXPECT_EQ(info.size, 1);
}

TEST_F(LaunchEnv, OpenMpiSingleHostDerivesTheRendezvousFromTheJobId) {
  set("OMPI_COMM_WORLD_RANK", "3");
  set("OMPI_COMM_WORLD_SIZE", "4");
  set("OMPI_COMM_WORLD_LOCAL_RANK", "3");
  set("OMPI_COMM_WORLD_LOCAL_SIZE", "4");
  set("OMPI_MCA_ess_base_jobid", "1234");
  LaunchInfo a = prism::launchInfoFromEnvironment();
  EXPECT_EQ(a.source, "openmpi");
  EXPECT_EQ(a.rank, 3);
  EXPECT_EQ(a.size, 4);
  EXPECT_EQ(a.localRank, 3);
  EXPECT_EQ(a.localSize, 4);
  ASSERT_EQ(a.rendezvous.rfind("127.0.0.1:", 0), 0u) << a.rendezvous;
  int port = portOf(a.rendezvous);
  EXPECT_GE(port, prism::launch::kDefaultPortBase);
  EXPECT_LT(port, prism::launch::kDefaultPortBase + prism::launch::kDefaultPortSpan);
  // Another rank of the same job agrees; other jobs land on some other port.
  set("OMPI_COMM_WORLD_RANK", "0");
  set("OMPI_COMM_WORLD_LOCAL_RANK", "0");
  EXPECT_EQ(prism::launchInfoFromEnvironment().rendezvous, a.rendezvous);
  int differing = 0;
  for (int job = 0; job < 8; ++job) {
    set("OMPI_MCA_ess_base_jobid", std::to_string(5000 + job).c_str());
    differing += prism::launchInfoFromEnvironment().rendezvous != a.rendezvous ? 1 : 0;
  }
  EXPECT_GE(differing, 7);
}

TEST_F(LaunchEnv, OpenMpiOnSeveralHostsNeedsARendezvous) {
  set("OMPI_COMM_WORLD_RANK", "1");
  set("OMPI_COMM_WORLD_SIZE", "4");
  set("OMPI_COMM_WORLD_LOCAL_RANK", "1");
  set("OMPI_COMM_WORLD_LOCAL_SIZE", "2");
  std::string error = errorText();
  EXPECT_NE(error.find("spans several hosts"), std::string::npos) << error;
  EXPECT_NE(error.find("PRISM_RENDEZVOUS"), std::string::npos) << error;
  EXPECT_NE(error.find("MASTER_ADDR"), std::string::npos) << error;
  set("MASTER_ADDR", "node17");
  set("MASTER_PORT", "6000");
  EXPECT_EQ(prism::launchInfoFromEnvironment().rendezvous, "node17:6000");
  set("PRISM_RENDEZVOUS", "10.0.0.5:7000");  // PRISM_RENDEZVOUS comes first
  EXPECT_EQ(prism::launchInfoFromEnvironment().rendezvous, "10.0.0.5:7000");
}

TEST_F(LaunchEnv, WithoutLocalSizeNoRendezvousIsGuessed) {
  set("OMPI_COMM_WORLD_RANK", "0");
  set("OMPI_COMM_WORLD_SIZE", "2");
  EXPECT_NE(errorText().find("no local size"), std::string::npos);
}

TEST_F(LaunchEnv, MpichPmiVariables) {
  set("PMI_RANK", "1");
  set("PMI_SIZE", "3");
  set("MPI_LOCALRANKID", "1");
  set("MPI_LOCALNRANKS", "3");
  set("PMI_JOBID", "77");
  LaunchInfo info = prism::launchInfoFromEnvironment();
  EXPECT_EQ(info.source, "pmi");
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.size, 3);
  EXPECT_EQ(info.localRank, 1);
  EXPECT_EQ(info.localSize, 3);
  EXPECT_EQ(info.rendezvous.rfind("127.0.0.1:", 0), 0u);
}

TEST_F(LaunchEnv, SlurmTasksPerNodeListGivesTheLocalSize) {
  set("SLURM_PROCID", "4");
  set("SLURM_NTASKS", "5");
  set("SLURM_LOCALID", "0");
  set("SLURM_NODEID", "2");
  set("SLURM_STEP_NUM_NODES", "3");
  set("SLURM_STEP_TASKS_PER_NODE", "2(x2),1");
  set("MASTER_ADDR", "10.2.3.4");
  set("MASTER_PORT", "29500");
  LaunchInfo info = prism::launchInfoFromEnvironment();
  EXPECT_EQ(info.source, "slurm");
  EXPECT_EQ(info.rank, 4);
  EXPECT_EQ(info.size, 5);
  EXPECT_EQ(info.localRank, 0);
  EXPECT_EQ(info.localSize, 1);
  EXPECT_EQ(info.rendezvous, "10.2.3.4:29500");
  set("SLURM_NODEID", "1");
  set("SLURM_PROCID", "3");
  set("SLURM_LOCALID", "1");
  EXPECT_EQ(prism::launchInfoFromEnvironment().localSize, 2);
}

TEST_F(LaunchEnv, SlurmOnOneNodeUsesTheJobAndStep) {
  set("SLURM_PROCID", "1");
  set("SLURM_NTASKS", "2");
  set("SLURM_LOCALID", "1");
  set("SLURM_STEP_NODELIST", "node3");
  set("SLURM_JOB_ID", "991");
  set("SLURM_STEP_ID", "0");
  LaunchInfo step0 = prism::launchInfoFromEnvironment();
  EXPECT_EQ(step0.localSize, 2);
  EXPECT_EQ(step0.rendezvous.rfind("127.0.0.1:", 0), 0u);
  set("SLURM_STEP_NODELIST", "node[3-4]");
  EXPECT_NE(errorText().find("PRISM_RENDEZVOUS"), std::string::npos);
}

TEST_F(LaunchEnv, TorchrunVariables) {
  set("RANK", "5");
  set("WORLD_SIZE", "8");
  set("LOCAL_RANK", "1");
  set("LOCAL_WORLD_SIZE", "4");
  set("MASTER_ADDR", "fd00::1");
  set("MASTER_PORT", "29400");
  LaunchInfo info = prism::launchInfoFromEnvironment();
  EXPECT_EQ(info.source, "torchrun");
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.size, 8);
  EXPECT_EQ(info.localRank, 1);
  EXPECT_EQ(info.localSize, 4);
  EXPECT_EQ(info.rendezvous, "[fd00::1]:29400");
}

TEST_F(LaunchEnv, MissingAndMalformedPiecesAreNamed) {
  EXPECT_NE(errorText().find("no launcher recognized"), std::string::npos);
  set("OMPI_COMM_WORLD_RANK", "0");
  EXPECT_NE(errorText().find("OMPI_COMM_WORLD_SIZE is not set"), std::string::npos);
  set("OMPI_COMM_WORLD_SIZE", "two");
  EXPECT_NE(errorText().find("OMPI_COMM_WORLD_SIZE=two is not an integer"), std::string::npos);
  set("OMPI_COMM_WORLD_SIZE", "2");
  set("OMPI_COMM_WORLD_RANK", "2");
  EXPECT_NE(errorText().find("outside [0"), std::string::npos);
  set("OMPI_COMM_WORLD_RANK", "1");
  set("OMPI_COMM_WORLD_LOCAL_RANK", "1");
  set("OMPI_COMM_WORLD_LOCAL_SIZE", "1");
  EXPECT_NE(errorText().find("inconsistent"), std::string::npos);
  set("OMPI_COMM_WORLD_LOCAL_SIZE", "2");
  set("PRISM_RENDEZVOUS", "nohost");
  EXPECT_NE(errorText().find("PRISM_RENDEZVOUS=nohost is not host:port"), std::string::npos);
  set("PRISM_RENDEZVOUS", nullptr);
  set("MASTER_ADDR", "10.0.0.1");
  EXPECT_NE(errorText().find("MASTER_PORT"), std::string::npos);
  set("MASTER_PORT", "99999");
  EXPECT_NE(errorText().find("not a port"), std::string::npos);
}

TEST_F(LaunchEnv, NoLauncherMeansOneRankForTheCInterface) {
  int rank = -1, size = -1;
  ncclUniqueId id;
  ASSERT_EQ(prismLaunchWorld(&rank, &size, &id), ncclSuccess);
  EXPECT_EQ(rank, 0);
  EXPECT_EQ(size, 1);
  set("PMI_RANK", "0");
  EXPECT_EQ(prismLaunchWorld(&rank, &size, &id), ncclInvalidUsage);
}

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

TEST_F(LaunchEnv, IdsAgreeAcrossRanksAndDependOnTheJobSecret) {
  LaunchInfo info;
  info.size = 3;
  info.rank = 1;  // not rank 0: no root is started
  info.source = "prism-run";
  info.rendezvous = "127.0.0.1:4000";
  set("PRISM_JOB_SECRET", "abc");
  ncclUniqueId a, b, c;
  prism::uniqueIdFromRendezvous(info, &a);
  info.rank = 2;
  prism::uniqueIdFromRendezvous(info, &b);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof(a)), 0);
  set("PRISM_JOB_SECRET", "abd");
  prism::uniqueIdFromRendezvous(info, &c);
  EXPECT_NE(std::memcmp(&a, &c, sizeof(a)), 0);
  info.rendezvous = "no.such.host.invalid:4000";
  EXPECT_THROW(prism::uniqueIdFromRendezvous(info, &c), CommError);
}

// A torchrun-style launch: without PRISM_JOB_SECRET the key comes from public values only
// (MASTER_ADDR:MASTER_PORT, TORCHELASTIC_RUN_ID), which the warning says; a secret file the
// job shares gives a real secret, the same on every rank and different per file.
TEST_F(LaunchEnv, TorchrunKeysArePublicUnlessTheJobHasASecret) {
  LaunchInfo info;
  info.size = 2;
  info.rank = 1;
  info.source = "torchrun";
  info.rendezvous = "127.0.0.1:29500";
  set("TORCHELASTIC_RUN_ID", "none");
  const std::string weak = prism::launch::jobKey(info);
  EXPECT_FALSE(weak.starts_with("secret:")) << weak;
  const std::string warning = prism::launch::weakKeyWarning(weak);
  EXPECT_NE(warning.find("PRISM_JOB_SECRET"), std::string::npos) << warning;
  EXPECT_NE(warning.find("any process that can reach the rendezvous"), std::string::npos);

  char path[] = "/tmp/prism_job_secret_XXXXXX";
  int fd = mkstemp(path);  // mode 0600
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "s3cret-one\n", 11), 11);
  close(fd);
  set("PRISM_JOB_SECRET_FILE", path);
  const std::string strong = prism::launch::jobKey(info);
  EXPECT_EQ(strong, "secret:s3cret-one");
  EXPECT_EQ(prism::launch::weakKeyWarning(strong), "");
  ncclUniqueId a, b, c;
  prism::uniqueIdFromRendezvous(info, &a);
  info.rank = 2;
  prism::uniqueIdFromRendezvous(info, &b);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof(a)), 0);
  fd = open(path, O_WRONLY | O_TRUNC);
  ASSERT_EQ(write(fd, "s3cret-two\n", 11), 11);
  close(fd);
  prism::uniqueIdFromRendezvous(info, &c);
  EXPECT_NE(std::memcmp(&a, &c, sizeof(a)), 0);
  unlink(path);
  EXPECT_THROW(prism::launch::jobKey(info), CommError) << "a missing secret file was accepted";
}

// Three thread ranks join one communicator through the rendezvous alone and allreduce.
TEST_F(LaunchEnv, RanksMeetAtTheRendezvousAndAllReduce) {
  constexpr int kRanks = 3;
  set("PRISM_JOB_SECRET", "launch-env-test");
  std::string rendezvous = "127.0.0.1:" + std::to_string(freePort());
  std::vector<ncclUniqueId> ids(kRanks);
  // Ranks other than 0 first: they must wait for the root rather than fail.
  for (int r = kRanks - 1; r >= 0; --r) {
    LaunchInfo info;
    info.rank = r;
    info.size = kRanks;
    info.source = "prism-run";
    info.rendezvous = rendezvous;
    prism::uniqueIdFromRendezvous(info, &ids[r]);
  }
  std::vector<ncclResult_t> results(kRanks, ncclInternalError);
  std::vector<std::vector<int>> out(kRanks, std::vector<int>(5, -1));
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      ncclComm_t comm = nullptr;
      ncclResult_t rc = ncclCommInitRank(&comm, kRanks, ids[r], r);
      std::vector<int> in(5);
      for (int i = 0; i < 5; ++i) in[i] = (r + 1) * (i + 1);
      if (rc == ncclSuccess) {
        rc = ncclAllReduce(in.data(), out[r].data(), 5, ncclInt32, ncclSum, comm, nullptr);
      }
      if (comm != nullptr) ncclCommDestroy(comm);
      results[r] = rc;
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kRanks; ++r) {
    ASSERT_EQ(results[r], ncclSuccess) << "rank " << r;
    for (int i = 0; i < 5; ++i) EXPECT_EQ(out[r][i], 6 * (i + 1)) << "rank " << r;
  }
}

}  // namespace
