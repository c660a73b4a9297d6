// The configuration table: precedence of PRISM_ names over NCCL aliases over defaults, and
// integer parsing with K/M/G suffixes.
#include "base/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "tests/harness/scoped_env.h"

namespace prism::config {
namespace {

using prism::testing::ScopedEnv;

TEST(Config, DefaultsWhenUnset) {
  ScopedEnv a("PRISM_BUFFSIZE", nullptr), b("NCCL_BUFFSIZE", nullptr);
  ScopedEnv c("PRISM_DEBUG_SUBSYS", nullptr), d("NCCL_DEBUG_SUBSYS", nullptr);
  EXPECT_EQ(getInt(Setting::BuffSize), 1048576);
  EXPECT_EQ(source(Setting::BuffSize), "default");
  EXPECT_EQ(getString(Setting::DebugSubsys), "INIT,BOOTSTRAP,ENV");
  EXPECT_EQ(getInt(Setting::SlotCount), 8);
  EXPECT_STREQ(name(Setting::BootstrapTimeout), "PRISM_BOOTSTRAP_TIMEOUT_S");
}

TEST(Config, PrismNameWinsOverNcclAlias) {
  ScopedEnv a("PRISM_BUFFSIZE", nullptr), b("NCCL_BUFFSIZE", "2M");
  EXPECT_EQ(getInt(Setting::BuffSize), 2 << 20);
  EXPECT_EQ(source(Setting::BuffSize), "NCCL_BUFFSIZE");
  ScopedEnv c("PRISM_BUFFSIZE", "64k");
  EXPECT_EQ(getInt(Setting::BuffSize), 64 << 10);
  EXPECT_EQ(source(Setting::BuffSize), "PRISM_BUFFSIZE");
  ScopedEnv empty("PRISM_BUFFSIZE", "");  // empty counts as unset
  EXPECT_EQ(source(Setting::BuffSize), "NCCL_BUFFSIZE");
}

TEST(Config, ParsesSuffixesAndRejectsMalformedValues) {
  struct Case {
    const char* text;
    int64_t expected;
  };
  for (Case c : {Case{"17", 17}, Case{"-3", -3}, Case{"1K", 1024}, Case{"3g", int64_t{3} << 30},
                 Case{"12x", 300}, Case{"", 300}, Case{"K", 300}, Case{"1KB", 300},
                 Case{"99999999999999999999", 300}, Case{"9223372036854775807G", 300}}) {
    ScopedEnv e("PRISM_TIMEOUT_S", c.text);
    EXPECT_EQ(getInt(Setting::Timeout), c.expected) << "\"" << c.text << "\"";
  }
}

TEST(Config, PrintsEverySetting) {
  char* text = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  printAll(out);
  std::fclose(out);
  std::string all(text, size);
  std::free(text);
  int lines = 0;
  for (char ch : all) lines += ch == '\n';
  EXPECT_EQ(lines, static_cast<int>(Setting::Count_));
  EXPECT_NE(all.find("PRISM_SOCKET_IFNAME"), std::string::npos);
  EXPECT_NE(all.find("(default)"), std::string::npos);
}

}  // namespace
}  // namespace prism::config
