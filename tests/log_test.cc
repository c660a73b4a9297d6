// Logging: level and subsystem selection, the line format, file name expansion and lines
// that stay whole when many threads log at once.
#include "base/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/scoped_env.h"

namespace prism::log {
namespace {

using prism::testing::ScopedEnv;

/// Points the log at a fresh file for one test with the given level and subsystems.
class LogFixture : public ::testing::Test {
 protected:
  void configure(const char* level, const char* subsys) {
    debug_.emplace("PRISM_DEBUG", level);
    subsys_.emplace("PRISM_DEBUG_SUBSYS", subsys);
    file_.emplace("PRISM_DEBUG_FILE", (dir_ + "/log.%h.%p").c_str());
    reset();
  }
  void SetUp() override {
    char dir[] = "/tmp/prism_log_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    debug_.reset();
    subsys_.reset();
    file_.reset();
    reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  std::string path() const {
    char host[64] = {};
    gethostname(host, sizeof(host) - 1);
    std::string h = host;
    h = h.substr(0, h.find('.'));
    return dir_ + "/log." + h + "." + std::to_string(getpid());
  }
  std::string contents() const {
    std::ifstream in(path());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
  std::optional<ScopedEnv> debug_, subsys_, file_;
};

TEST_F(LogFixture, LevelsAndSubsystems) {
  configure("info", "BOOTSTRAP,coll");
  EXPECT_TRUE(enabled(Level::Info, kBootstrap));
  EXPECT_TRUE(enabled(Level::Info, kColl));
  EXPECT_FALSE(enabled(Level::Info, kShm));
  EXPECT_FALSE(enabled(Level::Trace, kBootstrap));
  EXPECT_TRUE(enabled(Level::Warn, kShm));  // WARN ignores the subsystem mask

  configure("TRACE", "^COLL,NET");
  EXPECT_TRUE(enabled(Level::Trace, kInit));
  EXPECT_FALSE(enabled(Level::Trace, kColl));
  EXPECT_FALSE(enabled(Level::Info, kNet));

  configure("WARN", "ALL");
  EXPECT_FALSE(enabled(Level::Info, kAll));
  EXPECT_TRUE(enabled(Level::Warn, kAll));

  configure(nullptr, nullptr);
  EXPECT_FALSE(enabled(Level::Warn, kAll));
  EXPECT_FALSE(enabled(Level::Version, kAll));
}

TEST_F(LogFixture, LineFormatAndFileExpansion) {
  configure("INFO", "INIT");
  info(kInit, "hello %d", 42);
  info(kColl, "filtered out");
  warn("careful\n");
  trace(kInit, "too detailed");
  std::string text = contents();
  std::string prefix = "(^|\n)[^:\\s]+:" + std::to_string(getpid()) + ":[0-9]+ PRISM ";
  EXPECT_TRUE(std::regex_search(text, std::regex(prefix + "INFO hello 42\n"))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(prefix + "WARN careful\n"))) << text;
  EXPECT_EQ(text.find("filtered out"), std::string::npos);
  EXPECT_EQ(text.find("too detailed"), std::string::npos);
  EXPECT_EQ(text.find("\n\n"), std::string::npos);
}

TEST_F(LogFixture, LongMessagesAreWrittenWhole) {
  configure("WARN", nullptr);
  std::string big(5000, 'z');
  warn("%s!", big.c_str());
  EXPECT_NE(contents().find(big + "!\n"), std::string::npos);
}

TEST_F(LogFixture, ConcurrentLinesDoNotInterleave) {
  configure("INFO", "ALL");
  constexpr int kThreads = 4, kLines = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) info(kColl, "thread %d line %d %s", t, i, "payload-payload");
    });
  }
  for (auto& t : threads) t.join();
  std::istringstream lines(contents());
  std::regex shape("^[^:\\s]+:[0-9]+:[0-9]+ PRISM INFO thread [0-9] line [0-9]+ payload-payload$");
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" PRISM VERSION ") != std::string::npos) continue;
    EXPECT_TRUE(std::regex_match(line, shape)) << line;
    ++count;
  }
  EXPECT_EQ(count, kThreads * kLines);
}

}  // namespace
}  // namespace prism::log
