#include "topology/json_view.h"

#include <cmath>

#include "base/error.h"

namespace prism::topo {

void JsonView::fail(const std::string& reason) const {
  const std::string where = path_.empty() ? std::string("(top level)") : path_;
  throw Error(ncclInvalidArgument, *source_ + ": " + where + ": " + reason);
}

void JsonView::failAt(std::string_view key, const std::string& reason) const {
  JsonView(*value_, *source_, childPath(key)).fail(reason);
}

std::string JsonView::childPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool JsonView::has(std::string_view key) const {
  return value_->is_object() && value_->contains(key);
}

JsonView JsonView::at(std::string_view key) const {
  if (!value_->is_object()) fail("expected an object");
  auto it = value_->find(key);
  if (it == value_->end()) fail("missing \"" + std::string(key) + "\"");
  return JsonView(*it, *source_, childPath(key));
}

JsonView JsonView::at(size_t i) const {
  if (!value_->is_array() || i >= value_->size()) fail("no element " + std::to_string(i));
  return JsonView((*value_)[i], *source_, path_ + "[" + std::to_string(i) + "]");
}

size_t JsonView::size() const {
  if (!value_->is_array()) fail("expected an array");
  return value_->size();
}

double JsonView::number(std::string_view key, double fallback, double min) const {
  if (!has(key)) return fallback;
  const auto& v = (*value_)[std::string(key)];
  if (!v.is_number()) failAt(key, "expected a number");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < min) {
    failAt(key, "must be a number >= " + std::to_string(min) + ", got " + v.dump());
  }
  return d;
}

int JsonView::integer(std::string_view key, int fallback, int min) const {
  if (!has(key)) return fallback;
  const auto& v = (*value_)[std::string(key)];
  if (!v.is_number_integer()) failAt(key, "expected an integer, got " + v.dump());
  const int64_t i = v.get<int64_t>();
  if (i < min || i > (1 << 24)) {
    failAt(key, "must be an integer >= " + std::to_string(min) + ", got " + v.dump());
  }
  return static_cast<int>(i);
}

std::string JsonView::string(std::string_view key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const auto& v = (*value_)[std::string(key)];
  if (!v.is_string()) failAt(key, "expected a string, got " + v.dump());
  return v.get<std::string>();
}

bool JsonView::boolean(std::string_view key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = (*value_)[std::string(key)];
  if (!v.is_boolean()) failAt(key, "expected true or false, got " + v.dump());
  return v.get<bool>();
}

void JsonView::allowKeys(std::initializer_list<std::string_view> allowed) const {
  if (!value_->is_object()) fail("expected an object");
  for (const auto& [key, value] : value_->items()) {
    bool known = false;
    for (auto a : allowed) known = known || a == key;
    if (!known) failAt(key, "unknown key");
  }
}

}  // namespace prism::topo
