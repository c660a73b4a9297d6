// Internal to the fabric loader: a read-only view of one JSON value that knows its element
// path ("hosts[3].nics[1]") and the file it came from, so every error names both.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace prism::topo {

class JsonView {
 public:
  JsonView(const nlohmann::json& value, const std::string& source, std::string path)
      : value_(&value), source_(&source), path_(std::move(path)) {}

  /// Throws prism::Error(ncclInvalidArgument, "<file>: <path>: <reason>").
  [[noreturn]] void fail(const std::string& reason) const;
  /// The same for the member `key` of this object.
  [[noreturn]] void failAt(std::string_view key, const std::string& reason) const;

  const nlohmann::json& raw() const { return *value_; }
  const std::string& path() const { return path_; }
  const std::string& source() const { return *source_; }
  std::string childPath(std::string_view key) const;

  bool has(std::string_view key) const;
  /// Member `key`; fails if it is missing or this is not an object.
  JsonView at(std::string_view key) const;
  /// Element `i` of this array.
  JsonView at(size_t i) const;
  /// Array length; fails unless this is an array.
  size_t size() const;

  /// Typed members with defaults for missing keys; a present member of the wrong type or
  /// below `min` fails.
  double number(std::string_view key, double fallback, double min = 0) const;
  int integer(std::string_view key, int fallback, int min = 0) const;
  std::string string(std::string_view key, const std::string& fallback) const;
  bool boolean(std::string_view key, bool fallback) const;

  /// Fails naming the first member not in `allowed` (catches misspelled keys).
  void allowKeys(std::initializer_list<std::string_view> allowed) const;

 private:
  const nlohmann::json* value_;
  const std::string* source_;
  std::string path_;
};

}  // namespace prism::topo
