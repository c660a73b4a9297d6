// snprintf into a std::string (g++ 12 has no std::format), for prism-bench's tables.
#pragma once

#include <cstdio>
#include <string>

namespace prism::bench {

template <typename... Args>
std::string formatf(const char* format, Args... args) {
  int length = std::snprintf(nullptr, 0, format, args...);
  std::string out(static_cast<size_t>(length), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

}  // namespace prism::bench
