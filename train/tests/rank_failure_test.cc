// A rank that dies mid-training makes the others exit with an error naming it, instead of
// hanging: three rank processes under prism-run, rank 1 exits as step 2 begins.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "tests/harness/shell.h"

#ifndef PRISM_RUN_BIN
#error "train/CMakeLists.txt defines PRISM_RUN_BIN and PRISM_TRAIN_BIN"
#endif

namespace {

/// Lines the surviving ranks printed about their own failure ("prism-train: ...").
std::string survivorErrors(const std::string& output) {
  std::istringstream lines(output);
  std::string found;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("prism-train:", 0) == 0) found += line + "\n";
  }
  return found;
}

TEST(RankFailure, SurvivorsFailNamingTheDeadRank) {
  for (const char* mode : {"--mode dp --dp 3", "--mode zero3 --dp 3"}) {
    // prism-run's grace (60 s) is far beyond PRISM_TIMEOUT_S, so the survivors must end
    // on their own; `timeout` (150 s) only turns a hang into a failed assertion.
    const std::string command =
        std::string("env PRISM_TIMEOUT_S=15 PRISM_SOCKET_IFNAME==lo ") + PRISM_RUN_BIN +
        " -np 3 --grace 60 -- " + PRISM_TRAIN_BIN + " " + mode +
        " --steps 6 --batch 6 --layers 2 --hidden 32 --heads 4 --vocab 64 --seq 16 --exit-rank 1 "
        "--exit-at-step 2";
    const prism::test::ShellOutcome out = prism::test::runShell(command, 150);
    EXPECT_NE(out.status, 0) << command << "\n" << out.output;
    EXPECT_NE(out.status, 137) << "the survivors hung\n" << out.output;
    const std::string errors = survivorErrors(out.output);
    EXPECT_NE(errors.find("rank 1"), std::string::npos) << mode << ": no survivor named rank 1\n"
                                                        << out.output;
  }
}

}  // namespace
