// Sets (or unsets) one environment variable for the life of a scope, then restores it.
// Tests set variables before starting any rank thread: glibc's setenv is not thread safe.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace prism::testing {

class ScopedEnv {
 public:
  /// `value` nullptr unsets the variable.
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace prism::testing
