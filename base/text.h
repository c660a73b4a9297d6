// Small text helpers for parsing settings and names, shared by every floor.
#pragma once

#include <string_view>

namespace prism {

/// `s` without leading and trailing whitespace.
std::string_view trimSpaces(std::string_view s);

/// Whether `a` and `b` are equal, ignoring ASCII case.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace prism
